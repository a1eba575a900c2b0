//! The `ntkcert` command line: a thin layer over the library (see `ntkcert::cli`).

fn main() {
    std::process::exit(ntkcert::cli::run(std::env::args_os()));
}
