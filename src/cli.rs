//! Command-line interface. Exit codes (documented in README.md):
//! 0 certified / success, 1 refuted, 2 inconclusive, 64 bad command line, 65 invalid spec or
//! data, 66 missing or unreadable input file, 70 internal error, 73 cannot write output.

use crate::certify::{certify, Accuracy, Options, StepValidation, Verdict};
use crate::error::{Error, ErrorKind, Outcome};
use crate::report;
use crate::spec;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

pub const EXIT_REFUTED: i32 = 1;
pub const EXIT_INCONCLUSIVE: i32 = 2;
pub const EXIT_USAGE: i32 = 64;
pub const EXIT_DATA: i32 = 65;
pub const EXIT_NO_INPUT: i32 = 66;
pub const EXIT_INTERNAL: i32 = 70;
pub const EXIT_CANT_CREATE: i32 = 73;

/// The exit code of an error of this kind.
pub fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Usage => EXIT_USAGE,
        ErrorKind::Invalid => EXIT_DATA,
        ErrorKind::Io => EXIT_NO_INPUT,
        ErrorKind::CantCreate => EXIT_CANT_CREATE,
        ErrorKind::Internal => EXIT_INTERNAL,
    }
}

/// The exit code of a command that ran to its end.
pub fn outcome_code(outcome: Outcome) -> i32 {
    match outcome {
        Outcome::Success => 0,
        Outcome::Negative => EXIT_REFUTED,
        Outcome::Inconclusive => EXIT_INCONCLUSIVE,
    }
}

/// Prints a library error as `error: MESSAGE` (one line) and returns its exit code; 0 on success.
fn finish(result: Result<Outcome, Error>) -> i32 {
    match result {
        Ok(outcome) => outcome_code(outcome),
        Err(e) => {
            eprintln!("error: {e}");
            exit_code(e.kind)
        }
    }
}

fn done(result: Result<(), Error>) -> i32 {
    finish(result.map(|()| Outcome::Success))
}

#[derive(Parser, Debug)]
#[command(name = "ntkcert", version, about = "Certify when neural-network training follows its NTK linearisation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Prove whether sup_{t<=T} D(t) <= eps for the spec's model, with interval arithmetic.
    Certify {
        /// The spec file (TOML; see specs/README.md).
        spec: PathBuf,
        /// Print one JSON object instead of the readable summary.
        #[arg(long)]
        json: bool,
        /// Write a certificate (JSON) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Taylor order of the integrator (overrides the spec's [solver] order).
        #[arg(long)]
        order: Option<usize>,
        /// The relative width of sup D to aim for (default 1e-4), or `tight` (step targets at
        /// half an ulp: the tightest enclosures, the slowest); overrides [solver] accuracy.
        #[arg(long, value_parser = parse_accuracy)]
        accuracy: Option<Accuracy>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Print every rejected step attempt (time, step length, reason) on stderr: shows why
        /// a run is slow or ends inconclusive.
        #[arg(long)]
        trace: bool,
        /// How the steps are validated: `auto` (at nodes for large deep nets), `nodes` or
        /// `remainder` (widths and cost only; every choice is sound); overrides [solver]
        /// validation.
        #[arg(long, value_parser = parse_validation)]
        validation: Option<StepValidation>,
        /// Refuse (exit 65) a run whose estimated memory is above SIZE: bytes, or with a
        /// suffix K, M, G, T (powers of 1024), e.g. 8G, 500M. Default: half of the machine's
        /// memory (MemTotal in /proc/meminfo; 8G when unreadable).
        #[arg(long, value_name = "SIZE", value_parser = parse_max_memory)]
        max_memory: Option<u64>,
    },
    /// Integrate the same flows non-rigorously in f64 (the baseline for overhead ratios).
    Simulate {
        spec: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        order: Option<usize>,
        /// As for certify: simulate takes the steps of certify's first pass at this accuracy.
        #[arg(long, value_parser = parse_accuracy)]
        accuracy: Option<Accuracy>,
        /// Refuse (exit 65) a run whose estimated memory is above SIZE: bytes, or with a
        /// suffix K, M, G, T (powers of 1024), e.g. 8G, 500M. Default: half of the machine's
        /// memory (MemTotal in /proc/meminfo; 8G when unreadable).
        #[arg(long, value_name = "SIZE", value_parser = parse_max_memory)]
        max_memory: Option<u64>,
    },
    /// Re-verify a certificate independently (MPFR ball arithmetic); prints `valid` or `invalid: ...`.
    Check {
        /// The certificate (JSON, written by `certify --out`).
        cert: PathBuf,
        /// The spec file (default: the certificate's `spec.path`).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Refuse (exit 65) a run whose estimated memory is above SIZE: bytes, or with a
        /// suffix K, M, G, T (powers of 1024), e.g. 8G, 500M. Default: half of the machine's
        /// memory (MemTotal in /proc/meminfo; 8G when unreadable).
        #[arg(long, value_name = "SIZE", value_parser = parse_max_memory)]
        max_memory: Option<u64>,
    },
    /// Measure certify against simulate on benchmark specs, in one run.
    Bench {
        /// Spec files (default: specs/bench/gf-mlp-small.toml).
        specs: Vec<PathBuf>,
        /// Repetitions of each measurement (the minimum is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Also time the independent checker on each certificate (`ntkcert check`, in
        /// process), interleaved with the other two.
        #[arg(long)]
        check: bool,
        /// Refuse a spec whose run would need more memory than SIZE (default: half of this
        /// machine's RAM), as certify's --max-memory.
        #[arg(long, value_name = "SIZE", value_parser = parse_max_memory)]
        max_memory: Option<u64>,
    },
    /// Certified theory bounds (MATH.md F3-F6) of sup_{t<=T} D(t) and their constants.
    Bound {
        spec: PathBuf,
        /// Print one JSON object instead of the readable report.
        #[arg(long)]
        json: bool,
        /// Also run the certified integration and f64 trajectory samples, and compare.
        #[arg(long)]
        compare: bool,
        /// Time the bound against one Jacobian evaluation instead.
        #[arg(long)]
        bench: bool,
        /// Repetitions for --bench (the minimum is reported).
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        /// Bound the deviation from the order-Q Taylor model (overrides [training]
        /// reference_order; 1 is the NTK linearisation): its remainders over the reachable
        /// ball, the series' convergence radius and F10.
        #[arg(long, value_name = "Q")]
        order: Option<usize>,
    },
    /// Run the theory regression suite: every spec in DIR (or the given files) with its
    /// [regress] assertions; exits 1 naming each violation.
    Regress {
        /// Directories (every *.toml in them) or spec files.
        paths: Vec<PathBuf>,
    },
    /// Certify every cell of a grid over spec fields (parallel, resumable, shardable).
    Sweep(crate::sweep::SweepArgs),
    /// Join the results files of sweep shards.
    Merge(crate::sweep::MergeArgs),
    /// Print sweep results as a LaTeX (booktabs), Markdown or CSV table.
    Table(crate::sweep::TableArgs),
    /// Plot sweep results: log-log sup D against T with the bound curves (SVG or pgfplots).
    Plot(crate::sweep::PlotArgs),
    /// The empirical NTK K0 = J(w0) J(w0)^T of the spec's MLP (or, with --limit, the
    /// infinite-width NTK and NNGP kernel), enclosed, with certified lambda_min and lambda_max.
    Kernel {
        spec: PathBuf,
        /// The infinite-width kernels Theta and Sigma ([model] weight_variance, bias_variance).
        #[arg(long)]
        limit: bool,
        /// Print one JSON object instead of the readable summary.
        #[arg(long)]
        json: bool,
        /// Also write the JSON object to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Tunes glibc's allocator for the integrator: the Taylor expansions allocate and free
/// coefficient vectors of 100 kB to several MB at every order. By default the worker threads'
/// arenas are trimmed (madvise) and page-faulted back at the next order, about a fifth of
/// `certify`'s time on gf-mlp-mid (perf); without trimming below 1 GiB, gf-mlp-mid's certify
/// took 1.63 s instead of 2.36 s, simulate 0.14 s instead of 0.23 s (`ntkcert bench`, side by
/// side). Setting the trim threshold switches off glibc's adaptive mmap threshold, so that is
/// set too (32 MiB, the adaptive maximum): without it gf-mlp-large's simulate spent 80 s in the
/// kernel (10 million page faults) and took 54 s instead of 18 s. The checker's many small MPFR
/// allocations went the other way (gf-mlp-capd-edge check 3.5 s of CPU time against 4.5-5.1 s),
/// so `check` and `bench --check` run without it. One arena: the worker threads' arenas are
/// heaps of at most 64 MiB that glibc unmaps whenever one empties, whatever the trim
/// threshold; gf-mlp-large's vectors (2 MiB each) emptied and refilled them at every order:
/// its certify took 126.7 s (94 s in the kernel, 13.6 million page faults) against 60.5 s
/// (1.6 s, 0.17 million) with one arena, run after each other; small, capd-edge and mid were
/// unchanged (the expansions allocate whole coefficient vectors, so the threads rarely meet at
/// the arena's lock). The checker with one arena: mid 21.9 s -> 29.0 s, another reason it runs
/// without this. Call before any thread starts; a no-op off glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Runs the command line; returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    0
                }
                // No subcommand at all: the full help, on stderr.
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    EXIT_USAGE
                }
                _ => {
                    eprintln!("{}", usage_error_line(&e));
                    EXIT_USAGE
                }
            };
        }
    };
    if !matches!(cli.command, Command::Check { .. } | Command::Bench { check: true, .. }) {
        tune_allocator();
    }
    match cli.command {
        Command::Certify { spec, json, out, order, accuracy, quiet, trace, validation, max_memory } => {
            run_certify(&spec, json, out, order, accuracy, quiet, (trace, validation), max_memory.unwrap_or_else(crate::resources::default_max_memory))
        }
        Command::Simulate { spec, json, order, accuracy, max_memory } => run_simulate(&spec, json, order, accuracy, max_memory.unwrap_or_else(crate::resources::default_max_memory)),
        Command::Bench { specs, repeat, check, max_memory } => done(crate::bench::run(&specs, repeat, check, max_memory.unwrap_or_else(crate::resources::default_max_memory))),
        Command::Bound { spec, json, compare, bench, repeat, order } => done(crate::theory::report::run(&spec, json, compare, bench, repeat, order)),
        Command::Regress { paths } => finish(crate::regress::run(&paths)),
        Command::Sweep(args) => done(crate::sweep::cli_sweep(&args)),
        Command::Merge(args) => done(crate::sweep::cli_merge(&args)),
        Command::Table(args) => done(crate::sweep::cli_table(&args)),
        Command::Plot(args) => done(crate::sweep::cli_plot(&args)),
        Command::Check { cert, spec, quiet, max_memory } => run_check(&cert, spec.as_deref(), !quiet, max_memory.unwrap_or_else(crate::resources::default_max_memory)),
        Command::Kernel { spec, limit, json, out } => done(crate::kernel::run(&spec, limit, json, out.as_deref())),
    }
}

/// A command-line error as one line: clap's message, its tips, then the usage, e.g.
/// `error: unrecognized subcommand 'foo' (usage: ntkcert <COMMAND>; see 'ntkcert --help')`.
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut message = String::new();
    let mut usage = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage:") {
            usage = Some(u.trim().to_string());
        } else if line.starts_with("For more information") {
            continue;
        } else if message.is_empty() {
            message.push_str(line);
        } else {
            message.push_str(if message.ends_with(':') { " " } else { "; " });
            message.push_str(line);
        }
    }
    match usage {
        Some(u) => format!("{message} (usage: {u}; see 'ntkcert --help')"),
        None => format!("{message} (see 'ntkcert --help')"),
    }
}

/// Loads a spec ([`spec::load_within`] the memory limit), printing a one-line error and
/// returning the exit code on failure.
fn load_spec(path: &std::path::Path, limit: &crate::resources::MemoryLimit) -> Result<spec::LoadedSpec, i32> {
    spec::load_within(path, limit).map_err(|e| {
        eprintln!("error: {e}");
        exit_code(e.kind().into())
    })
}

/// `ntkcert check`: prints `valid` (exit 0) or `invalid: REASON` (exit 1) on stdout.
fn run_check(cert: &std::path::Path, spec: Option<&std::path::Path>, progress: bool, max_memory: u64) -> i32 {
    finish(crate::check::check_file_within(cert, spec, progress, Some(max_memory)).map(|validity| match validity {
        crate::check::Validity::Valid => {
            println!("valid");
            Outcome::Success
        }
        crate::check::Validity::Invalid(reason) => {
            println!("invalid: {reason}");
            Outcome::Negative
        }
    }))
}

fn options_for(loaded: &spec::LoadedSpec, order: Option<usize>, accuracy: Option<Accuracy>, progress: bool) -> Options {
    let options = Options { progress, ..Options::from_solver(&loaded.solver, order) };
    Options { accuracy: accuracy.unwrap_or(options.accuracy), ..options }
}

#[allow(clippy::too_many_arguments)]
/// `tuning`: `--trace` and `--validation`.
fn run_certify(path: &std::path::Path, json: bool, out: Option<PathBuf>, order: Option<usize>, accuracy: Option<Accuracy>, quiet: bool, tuning: (bool, Option<StepValidation>), max_memory: u64) -> i32 {
    let (trace, validation) = tuning;
    if let Some(code) = check_order(order) {
        return code;
    }
    let loaded = match load_spec(path, &memory_limit(max_memory, order)) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Some(out) = &out {
        if let Err(e) = crate::certificate::check_writable(out) {
            eprintln!("error: cannot write certificate '{}': {e}", out.display());
            return EXIT_CANT_CREATE;
        }
    }
    let options = options_for(&loaded, order, accuracy, !quiet && !json);
    let options = Options { trace, validation: validation.unwrap_or(options.validation), ..options };
    let result = match certify(&loaded.problem, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return EXIT_DATA;
        }
    };
    if let Some(out) = out {
        let mut cert = crate::certificate::Certificate::new(&loaded, &result);
        cert.value["spec"]["path"] = serde_json::Value::from(path.display().to_string());
        if let Some(relative) = crate::certificate::spec_path_from_certificate(&out, path) {
            cert.value["spec"]["path_from_certificate"] = serde_json::Value::from(relative.display().to_string());
        }
        if let Err(e) = cert.write_atomically(&out) {
            eprintln!("error: cannot write certificate '{}': {e}", out.display());
            return EXIT_CANT_CREATE;
        }
    }
    if json {
        println!("{}", report::certify_json(&loaded.problem, &result));
    } else {
        print!("{}", report::certify_text(&loaded.problem, &result));
    }
    match result.verdict {
        Verdict::Certified => 0,
        Verdict::Refuted => EXIT_REFUTED,
        Verdict::Inconclusive => EXIT_INCONCLUSIVE,
    }
}

fn run_simulate(path: &std::path::Path, json: bool, order: Option<usize>, accuracy: Option<Accuracy>, max_memory: u64) -> i32 {
    if let Some(code) = check_order(order) {
        return code;
    }
    let loaded = match load_spec(path, &memory_limit(max_memory, order)) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let options = options_for(&loaded, order, accuracy, false);
    let sim = crate::simulate::simulate(&loaded.problem, options.first_pass());
    if json {
        println!("{}", report::simulate_json(&sim));
    } else {
        print!("{}", report::simulate_text(&loaded.problem, &sim));
    }
    0
}

fn memory_limit(bytes: u64, order: Option<usize>) -> crate::resources::MemoryLimit {
    crate::resources::MemoryLimit { bytes, order, engine: crate::resources::Engine::Certify }
}

/// `--max-memory SIZE` ([`crate::resources::parse_size`]).
fn parse_max_memory(text: &str) -> Result<u64, String> {
    crate::resources::parse_size(text)
}

/// `--validation`: `auto`, `nodes` or `remainder`.
fn parse_validation(text: &str) -> Result<StepValidation, String> {
    StepValidation::parse(text).ok_or_else(|| format!("expected auto, nodes or remainder, got '{text}'"))
}

/// `--accuracy`: `tight` or a relative width in (0, 1).
fn parse_accuracy(text: &str) -> Result<Accuracy, String> {
    Accuracy::parse(text).ok_or_else(|| format!("expected 'tight' or a relative width in (0, 1) such as 1e-4, got '{text}'"))
}

/// `--order` within `certify::ORDER_RANGE` (what the checker accepts), else a usage error.
fn check_order(order: Option<usize>) -> Option<i32> {
    let message = crate::certify::order_option_error(order)?;
    eprintln!("error: {message}");
    Some(EXIT_USAGE)
}
