//! `cargo bench`: the same measurement as `ntkcert bench --check` (certify against the plain f64
//! simulation, interleaved in one run) on the benchmark specs that finish in seconds.
//! `gf-mlp-large` takes minutes: run `ntkcert bench specs/bench/gf-mlp-large.toml --repeat 1`.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let specs: Vec<PathBuf> = ["gf-mlp-small", "gf-mlp-capd-edge", "gf-mlp-mid"]
        .iter()
        .map(|name| root.join("specs/bench").join(format!("{name}.toml")))
        .collect();
    if let Err(e) = ntkcert::bench::run(&specs, 3, true, ntkcert::resources::default_max_memory()) {
        eprintln!("error: {e}");
        std::process::exit(ntkcert::cli::exit_code(e.kind));
    }
}
