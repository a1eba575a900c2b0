//! `ntkcert sweep`, `merge`, `table` and `plot`: certified grids over spec fields, and the
//! appendix-ready tables and figures made from their results.
//!
//! - [`grid`]: axes, cells and the spec of each cell.
//! - [`run`]: running the cells in parallel, the results file (one JSON line per finished
//!   cell), resuming, shards and merging.
//! - [`decimal`]: printing exact f64 endpoints as decimals with outward rounding
//!   (`proofs/printed-intervals.md`).
//! - [`table`]: LaTeX (booktabs), Markdown and CSV tables.
//! - [`plot`]: the log-log figure (SVG) and its pgfplots data.

pub mod decimal;
pub mod grid;
pub mod plot;
pub mod results;
pub mod run;
pub mod table;

pub use run::{merge_files, run_sweep, SweepOptions};

use crate::error::{Error, ErrorKind};

/// A one-line error and its kind (which `cli` maps to an exit code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepError {
    pub message: String,
    pub kind: ErrorKind,
}

impl SweepError {
    pub fn usage(message: impl Into<String>) -> Self {
        SweepError { message: message.into(), kind: ErrorKind::Usage }
    }
    pub fn data(message: impl Into<String>) -> Self {
        SweepError { message: message.into(), kind: ErrorKind::Invalid }
    }
    pub fn no_input(message: impl Into<String>) -> Self {
        SweepError { message: message.into(), kind: ErrorKind::Io }
    }
    pub fn cant_create(message: impl Into<String>) -> Self {
        SweepError { message: message.into(), kind: ErrorKind::CantCreate }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        SweepError { message: message.into(), kind: ErrorKind::Internal }
    }
    /// The same message as an invalid-data error (a bad `[sweep]` entry in a spec file).
    pub fn into_data(self) -> Self {
        SweepError { kind: ErrorKind::Invalid, ..self }
    }
}

impl From<SweepError> for crate::error::Error {
    fn from(e: SweepError) -> Self {
        crate::error::Error::new(e.kind, e.message)
    }
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SweepError {}

/// Command-line arguments of `ntkcert sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The base spec (TOML); its optional [sweep] table gives the grid.
    pub spec: std::path::PathBuf,
    /// An axis FIELD=V1,V2,... (repeatable; replaces the spec's axis of that field). FIELD is
    /// alpha, T (horizon), eps (tolerance), width, seed or a dotted spec path; a value is an
    /// exact number or a schedule in T such as 10*T, 2*T^0.5, 3*sqrt(T).
    #[arg(long = "set", value_name = "FIELD=V1,V2,...")]
    pub set: Vec<String>,
    /// Output directory: results.jsonl (or results.shard-K-of-N.jsonl) and certs/.
    /// Default: sweep-SPECNAME in the current directory.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Run only the cells whose index i satisfies i mod N = K - 1 (1 <= K <= N).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Taylor order of the integrator (overrides the spec's [solver] order).
    #[arg(long)]
    pub order: Option<usize>,
    /// List the cells (index, key, done or pending) and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse (before any cell runs, also with --dry-run) a grid with a cell whose estimated
    /// memory is above SIZE divided by the number of parallel jobs (default: half of this
    /// machine's RAM; as certify's --max-memory).
    #[arg(long, value_name = "SIZE", value_parser = crate::resources::parse_size)]
    pub max_memory: Option<u64>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Command-line arguments of `ntkcert merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard results files (results.shard-K-of-N.jsonl).
    #[arg(required = true)]
    pub inputs: Vec<std::path::PathBuf>,
    /// The merged results file (written atomically).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// Command-line arguments of `ntkcert table`.
#[derive(clap::Args, Debug)]
pub struct TableArgs {
    /// Results files (JSON lines from `sweep` or `merge`).
    #[arg(required = true)]
    pub results: Vec<std::path::PathBuf>,
    /// latex (booktabs), markdown or csv.
    #[arg(long, default_value = "markdown")]
    pub format: String,
    /// Comma-separated columns (see README: alpha, T, eps, p, width, seed, name, verdict,
    /// steps, kappa, R0, supD, DT, trivial, published, sharpened, gronwall_t2,
    /// supD/BOUND, any swept field).
    #[arg(long)]
    pub columns: Option<String>,
    /// Significant digits of printed enclosures (outward rounded).
    #[arg(long, default_value_t = 3)]
    pub digits: usize,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Do not check each row against its certificate file.
    #[arg(long)]
    pub no_check: bool,
    /// One set of value columns per value of this swept field (e.g. `Q` for
    /// `training.reference_order`): rows group the results that agree on the other swept fields.
    #[arg(long, value_name = "FIELD")]
    pub pivot: Option<String>,
}

/// Command-line arguments of `ntkcert plot`.
#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// Results files (JSON lines from `sweep` or `merge`).
    #[arg(required = true)]
    pub results: Vec<std::path::PathBuf>,
    /// The figure (.svg) or the pgfplots file (.tex).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// svg or pgfplots.
    #[arg(long, default_value = "svg")]
    pub format: String,
    /// Bound curves to draw (comma-separated keys: trivial, published, sharpened, gronwall_t2;
    /// "none" for none).
    #[arg(long, default_value = "sharpened,gronwall_t2")]
    pub bounds: String,
    /// Title of the figure.
    #[arg(long)]
    pub title: Option<String>,
}

/// `ntkcert sweep`: runs (or, with `--dry-run`, lists) the grid's cells.
pub fn cli_sweep(args: &SweepArgs) -> Result<(), Error> {
    Ok(run::cli(args)?)
}

/// `ntkcert merge`: joins shard results files and prints a summary.
pub fn cli_merge(args: &MergeArgs) -> Result<(), Error> {
    let summary = run::merge_files(&args.inputs, &args.out)?;
    println!("{summary}");
    Ok(())
}

/// `ntkcert table`.
pub fn cli_table(args: &TableArgs) -> Result<(), Error> {
    Ok(table::cli(args)?)
}

/// `ntkcert plot`.
pub fn cli_plot(args: &PlotArgs) -> Result<(), Error> {
    Ok(plot::cli(args)?)
}
