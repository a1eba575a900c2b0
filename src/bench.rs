//! `ntkcert bench`: certify against simulate on the same spec, measured side by side in one
//! run, with the figures the benchmark table asks for; with `--check`, the independent checker
//! on the certificate too (its time against certify's, and the certificate's size).

use crate::certificate::Certificate;
use crate::certify::{certify, Options};
use crate::simulate::simulate;
use std::path::PathBuf;

/// Peak resident memory of this process so far (VmHWM), in MiB, where the OS reports it.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(specs: &[PathBuf], repeat: usize, with_check: bool) -> i32 {
    let default = [PathBuf::from("specs/bench/gf-mlp-small.toml")];
    let specs = if specs.is_empty() { &default[..] } else { specs };
    let repeat = repeat.max(1);
    print!(
        "{:<22} {:>7} {:>6} {:>10} {:>10} {:>7} {:>11} {:>11} {:>9}",
        "spec", "p", "steps", "simulate s", "certify s", "ratio", "out width", "supD relw", "peak MiB"
    );
    if with_check {
        print!(" {:>9} {:>9} {:>8}", "check s", "chk/cert", "cert kB");
    }
    println!();
    for path in specs {
        let loaded = match crate::cli::load_spec(path) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let mut options = Options::from_solver(&loaded.solver, None);
        if with_check {
            // The checker confirms tight certificates only (`Accuracy::checkable`).
            options.accuracy = crate::certify::Accuracy::Tight;
        }
        let mut sim_best = f64::INFINITY;
        let mut cert_best = f64::INFINITY;
        let mut check_best = f64::INFINITY;
        let mut certificate_bytes = 0;
        let mut last = None;
        let mut sim_steps = 0;
        // Interleave the two so that machine noise hits both alike.
        for _ in 0..repeat {
            let sim = simulate(&loaded.problem, options.first_pass());
            sim_best = sim_best.min(sim.seconds);
            sim_steps = sim.steps;
            let cert = match certify(&loaded.problem, &options) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return crate::cli::EXIT_DATA;
                }
            };
            cert_best = cert_best.min(cert.seconds);
            if with_check {
                let certificate = Certificate::new(&loaded, &cert);
                let started = std::time::Instant::now();
                if let Err(e) = crate::check::check_value(&certificate.value, &loaded) {
                    eprintln!("error: {}: the checker did not confirm the certificate: {e:?}", path.display());
                    return crate::cli::EXIT_DATA;
                }
                check_best = check_best.min(started.elapsed().as_secs_f64());
                certificate_bytes = serde_json::to_string_pretty(&certificate.value).map_or(0, |t| t.len());
            }
            last = Some(cert);
        }
        let cert = last.expect("repeat >= 1");
        let width = cert.outputs_final.iter().map(|x| x.wid()).fold(0.0, f64::max);
        let sup = cert.sup_deviation;
        let rel = sup.wid() / sup.inf().abs().max(f64::MIN_POSITIVE);
        print!(
            "{:<22} {:>7} {:>6} {:>10.4} {:>10.4} {:>7.2} {:>11.2e} {:>11.2e} {:>9.0}",
            loaded.problem.name,
            loaded.problem.num_params(),
            format!("{}/{}", cert.steps, sim_steps),
            sim_best,
            cert_best,
            cert_best / sim_best,
            width,
            rel,
            peak_memory_mib().unwrap_or(f64::NAN)
        );
        if with_check {
            print!(" {:>9.4} {:>9.2} {:>8.1}", check_best, check_best / cert_best, certificate_bytes as f64 / 1000.0);
        }
        println!();
    }
    0
}
