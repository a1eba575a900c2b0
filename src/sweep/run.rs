//! Running a sweep: every pending cell is certified (in parallel), its certificate written
//! atomically, and one JSON line appended to the results file as soon as it finishes. A rerun
//! reads the results file first and skips the cells whose line (and certificate) is there, so an
//! interrupted sweep resumes where it stopped. `--shard K/N` runs the cells with
//! `index mod N = K - 1`; `merge` joins the shard files.

use super::grid::{self, Cell};
use super::results::{read_rows, Row, RESULTS_FORMAT};
use super::{SweepArgs, SweepError};
use crate::certificate::{write_atomically, Certificate};
use crate::certify::{certify, Options};
use crate::report::{interval_json, verdict_name};
use crate::spec;
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Everything `run_sweep` needs besides the spec.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// `--set` axes, as written.
    pub set: Vec<String>,
    pub out: Option<PathBuf>,
    /// `(k, n)`, 1-based `k`.
    pub shard: Option<(usize, usize)>,
    pub jobs: Option<usize>,
    pub order: Option<usize>,
    pub progress: bool,
    pub dry_run: bool,
    /// The memory limit of one cell in bytes (`None`: no limit); every cell is checked against
    /// it while it is loaded ([`spec::load_str_within`]).
    pub max_memory: Option<u64>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    pub results: PathBuf,
    pub cells_total: usize,
    pub cells_in_shard: usize,
    pub already_done: usize,
    /// Keys of the cells computed by this run.
    pub ran: Vec<String>,
    pub verdicts: BTreeMap<String, usize>,
}

pub(super) fn cli(args: &SweepArgs) -> Result<(), SweepError> {
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if let Some(message) = crate::certify::order_option_error(args.order) {
        return Err(SweepError::usage(message));
    }
    if args.jobs == Some(0) {
        return Err(SweepError::usage("--jobs must be at least 1"));
    }
    let options = SweepOptions {
        set: args.set.clone(),
        out: args.out.clone(),
        shard,
        jobs: args.jobs,
        order: args.order,
        progress: !args.quiet,
        dry_run: args.dry_run,
        // Cells run `jobs` at a time: each gets its share of the limit.
        max_memory: Some(args.max_memory.unwrap_or_else(crate::resources::default_max_memory) / args.jobs.unwrap_or(1).max(1) as u64),
    };
    let summary = run_sweep(&args.spec, &options)?;
    if !args.dry_run {
        let verdicts: Vec<String> = summary.verdicts.iter().map(|(v, n)| format!("{n} {v}")).collect();
        println!(
            "{} of {} cells{}: {} already done, {} run now; {}; results in {}",
            summary.cells_in_shard,
            summary.cells_total,
            shard.map(|(k, n)| format!(" (shard {k}/{n})")).unwrap_or_default(),
            summary.already_done,
            summary.ran.len(),
            if verdicts.is_empty() { "no verdicts".to_string() } else { verdicts.join(", ") },
            summary.results.display()
        );
    }
    Ok(())
}

/// Parses `K/N` with `1 <= K <= N`.
pub fn parse_shard(s: &str) -> Result<(usize, usize), SweepError> {
    let bad = || SweepError::usage(format!("--shard '{s}': expected K/N with 1 <= K <= N (e.g. 2/8)"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The prepared sweep: the base spec, its axes and cells.
struct Plan {
    label: String,
    base_dir: PathBuf,
    base: toml::Table,
    base_name: String,
    base_sha256: String,
    cells: Vec<Cell>,
    /// Each cell's memory limit, checked while it is loaded.
    memory: Option<crate::resources::MemoryLimit>,
}

fn plan(spec_path: &Path, set: &[String]) -> Result<Plan, SweepError> {
    let label = spec_path.display().to_string();
    let text = crate::files::read_text_bounded(spec_path, crate::files::SPEC_LIMIT)
        .map_err(|e| SweepError::no_input(format!("{label}: cannot read spec file: {e}")))?;
    // The loader reports syntax and field errors in its one-line style; [sweep] is allowed there.
    let base_dir = match spec_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base: toml::Table = text.parse().map_err(|_| match spec::load_str(&text, &base_dir, &label) {
        Err(e) => SweepError::data(e.to_string()),
        Ok(_) => SweepError::data(format!("{label}: invalid TOML")),
    })?;
    let spec_axes = match base.get("sweep") {
        Some(v) => grid::axes_from_table(v, &label)?,
        None => Vec::new(),
    };
    let cli_axes = set.iter().map(|a| grid::axis_from_arg(a)).collect::<Result<Vec<_>, _>>()?;
    let axes = grid::merge_axes(spec_axes, cli_axes)?;
    let base_name = match base.get("name") {
        Some(toml::Value::String(s)) => s.clone(),
        _ => spec_path.file_stem().and_then(|s| s.to_str()).unwrap_or("spec").to_string(),
    };
    let mut without_sweep = base.clone();
    without_sweep.remove("sweep");
    let canonical = spec::canonical_json(&toml::Value::Table(without_sweep));
    let base_sha256 = spec::data::sha256_hex(spec::canonical_string(&canonical).as_bytes());
    let cells = grid::cells(&axes);
    Ok(Plan { label, base_dir, base, base_name, base_sha256, cells, memory: None })
}

/// The spec text of a cell, loaded (so every cell is valid before any runs).
/// The spec of one cell (as TOML text) and its resolved problem.
fn load_cell(plan: &Plan, cell: &Cell) -> Result<(spec::LoadedSpec, String), SweepError> {
    let table = grid::cell_table(&plan.base, &plan.base_name, cell).map_err(|e| SweepError {
        message: format!("{}: {}", plan.label, e.message),
        kind: e.kind,
    })?;
    let text = toml::to_string(&table).map_err(|e| SweepError::internal(format!("cannot write the spec of cell {}: {e}", cell.key())))?;
    let label = format!("{} (cell {})", plan.label, cell.key());
    let loaded = match &plan.memory {
        None => spec::load_str(&text, &plan.base_dir, &label),
        Some(limit) => spec::load_str_within(&text, &plan.base_dir, &label, limit),
    }
    .map_err(|e| SweepError { message: e.to_string(), kind: e.kind().into() })?;
    Ok((loaded, text))
}

fn results_path(out_dir: &Path, shard: Option<(usize, usize)>) -> PathBuf {
    match shard {
        Some((k, n)) => out_dir.join(format!("results.shard-{k}-of-{n}.jsonl")),
        None => out_dir.join("results.jsonl"),
    }
}

/// The certificate file of a cell, relative to the output directory.
fn certificate_name(key: &str) -> String {
    let h = spec::data::sha256_hex(key.as_bytes());
    format!("certs/cell-{}.json", &h[..16])
}

/// Runs (or resumes) a sweep.
pub fn run_sweep(spec_path: &Path, options: &SweepOptions) -> Result<SweepSummary, SweepError> {
    let mut plan = plan(spec_path, &options.set)?;
    plan.memory = options.max_memory.map(|bytes| crate::resources::MemoryLimit { bytes, order: options.order, engine: crate::resources::Engine::Certify });
    let out_dir = options.out.clone().unwrap_or_else(|| PathBuf::from(format!("sweep-{}", plan.base_name.replace(['/', ' '], "_"))));
    let results = results_path(&out_dir, options.shard);
    let mine: Vec<&Cell> = plan
        .cells
        .iter()
        .filter(|c| options.shard.is_none_or(|(k, n)| c.index % n == k - 1))
        .collect();

    // Validate every cell of this shard before running any.
    for c in &mine {
        load_cell(&plan, c)?;
    }

    // Resume: the finished cells of this grid whose certificate is present. Lines of cells that
    // are not in this grid (an earlier, different grid in the same file) are kept as they are.
    let index_of: BTreeMap<String, usize> = mine.iter().map(|c| (c.key(), c.index)).collect();
    let mut kept: Vec<Row> = Vec::new();
    let mut foreign: Vec<Row> = Vec::new();
    let mut rewrite = false;
    if results.exists() {
        let (rows, skipped) = read_rows(&results, true)?;
        rewrite |= skipped > 0;
        let mut seen = HashSet::new();
        for mut row in rows {
            if row.str_field("base_sha256") != Some(plan.base_sha256.as_str()) {
                return Err(SweepError::data(format!(
                    "{}: made from a different base spec (base_sha256 differs from {}'s); use another --out",
                    results.display(),
                    plan.label
                )));
            }
            if !seen.insert(row.key().to_string()) {
                rewrite = true;
                continue;
            }
            let Some(&index) = index_of.get(row.key()) else {
                foreign.push(row);
                continue;
            };
            if row.certificate_path().is_some_and(|p| p.is_file()) {
                // The grid may have grown since the line was written: renumber.
                if row.index() != index as u64 || row.value["cells"].as_u64() != Some(plan.cells.len() as u64) {
                    row.value["index"] = Value::from(index);
                    row.value["cells"] = Value::from(plan.cells.len());
                    rewrite = true;
                }
                kept.push(row);
            } else {
                rewrite = true;
            }
        }
    }
    let done: HashSet<String> = kept.iter().map(|r| r.key().to_string()).collect();
    let pending: Vec<&Cell> = mine.iter().copied().filter(|c| !done.contains(&c.key())).collect();

    if options.dry_run {
        for c in &mine {
            println!("{:>5}  {}  {}", c.index, if done.contains(&c.key()) { "done   " } else { "pending" }, c.key());
        }
        println!("{} cells in the grid, {} in this run, {} done, {} pending", plan.cells.len(), mine.len(), kept.len(), pending.len());
        return Ok(summary(&results, &plan, &mine, &kept, Vec::new()));
    }

    std::fs::create_dir_all(out_dir.join("certs"))
        .map_err(|e| SweepError::cant_create(format!("cannot create directory '{}': {e}", out_dir.join("certs").display())))?;
    if rewrite {
        // Drop partial lines (a sweep killed while writing) and stale lines, atomically.
        write_rows(&results, &[foreign.clone(), kept.clone()].concat())?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results)
        .map_err(|e| SweepError::cant_create(format!("cannot write results file '{}': {e}", results.display())))?;
    let file = Mutex::new(file);

    let pb = if options.progress && !pending.is_empty() {
        let pb = crate::report::progress_bar(
            pending.len() as u64,
            "sweep [{bar:30}] {pos}/{len} cells, {elapsed} elapsed, eta {eta} {msg}",
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(500));
        Some(pb)
    } else {
        None
    };

    let run_one = |cell: &Cell| -> Result<(String, Value), SweepError> {
        let line = run_cell(&plan, cell, &out_dir, options.order)?;
        let text = format!("{line}\n");
        {
            let mut f = file.lock().map_err(|_| SweepError::internal("results file lock poisoned"))?;
            f.write_all(text.as_bytes())
                .and_then(|_| f.sync_data())
                .map_err(|e| SweepError::cant_create(format!("cannot write results file '{}': {e}", results.display())))?;
        }
        if let Some(pb) = &pb {
            pb.inc(1);
        }
        Ok((cell.key(), line))
    };
    let outcome: Result<Vec<(String, Value)>, SweepError> = match options.jobs {
        Some(j) => rayon::ThreadPoolBuilder::new()
            .num_threads(j)
            .build()
            .map_err(|e| SweepError::internal(format!("cannot start {j} threads: {e}")))?
            .install(|| pending.par_iter().map(|c| run_one(c)).collect()),
        None => pending.par_iter().map(|c| run_one(c)).collect(),
    };
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let new = outcome?;
    drop(file);

    // All cells of this run are done: rewrite the file in cell order (atomically), after the
    // lines of other grids.
    let (rows, _) = read_rows(&results, true)?;
    let mut rows: Vec<Row> = rows.into_iter().filter(|r| index_of.contains_key(r.key())).collect();
    rows.sort_by_key(|r| r.index());
    rows.dedup_by(|a, b| a.key() == b.key());
    write_rows(&results, &[foreign.clone(), rows.clone()].concat())?;
    if !foreign.is_empty() {
        eprintln!("note: {}: kept {} lines of cells outside this grid", results.display(), foreign.len());
    }
    let ran = new.iter().map(|(k, _)| k.clone()).collect();
    Ok(summary(&results, &plan, &mine, &rows, ran))
}

fn summary(results: &Path, plan: &Plan, mine: &[&Cell], rows: &[Row], ran: Vec<String>) -> SweepSummary {
    let mut verdicts = BTreeMap::new();
    for r in rows {
        *verdicts.entry(r.str_field("verdict").unwrap_or("?").to_string()).or_insert(0) += 1;
    }
    SweepSummary {
        results: results.to_path_buf(),
        cells_total: plan.cells.len(),
        cells_in_shard: mine.len(),
        already_done: rows.len().saturating_sub(ran.len()),
        ran,
        verdicts,
    }
}

/// The cell's spec as it will be written into `dir` (the certificates' directory), loaded from
/// there: every data-file path (relative to the base spec's directory) is rewritten relative to
/// `dir`, so the spec beside a certificate resolves the same files and the certificate binds
/// exactly that spec. Without data files this is [`load_cell`] with `dir` as the base.
fn load_cell_in(plan: &Plan, cell: &Cell, dir: &Path) -> Result<(spec::LoadedSpec, String), SweepError> {
    let (first, text) = load_cell(plan, cell)?;
    let label = format!("{} (cell {})", plan.label, cell.key());
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| SweepError::internal(format!("cannot re-read the spec of cell {}: {e}", cell.key())))?;
    for file in &first.data_files {
        let relative = relative_path(dir, &file.resolved)
            .map_err(|e| SweepError::cant_create(format!("{label}: cannot locate '{}' from '{}': {e}", file.path, dir.display())))?;
        set_string_field(&mut table, &file.field, relative)
            .map_err(|e| SweepError::internal(format!("{label}: field '{}': {e}", file.field)))?;
    }
    let text = toml::to_string(&table).map_err(|e| SweepError::internal(format!("cannot write the spec of cell {}: {e}", cell.key())))?;
    let loaded = spec::load_str(&text, dir, &label).map_err(|e| SweepError { message: e.to_string(), kind: e.kind().into() })?;
    Ok((loaded, text))
}

/// The path of `target` relative to the directory `dir` (both made absolute first), with `/`
/// separators, e.g. `../../specs/examples/x.csv`.
fn relative_path(dir: &Path, target: &Path) -> std::io::Result<String> {
    let dir = std::fs::canonicalize(dir)?;
    let target = std::fs::canonicalize(target)?;
    let (a, b): (Vec<_>, Vec<_>) = (dir.components().collect(), target.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(b[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Ok(parts.join("/"))
}

/// Sets the string at a spec field path such as `data.inputs_file` or `weights.files[2]`.
fn set_string_field(table: &mut toml::Table, field: &str, value: String) -> Result<(), String> {
    let (path, index) = match field.strip_suffix(']').and_then(|f| f.split_once('[')) {
        Some((p, i)) => (p, Some(i.parse::<usize>().map_err(|e| e.to_string())?)),
        None => (field, None),
    };
    let mut keys = path.split('.').peekable();
    let mut current = table;
    while let Some(key) = keys.next() {
        if keys.peek().is_none() {
            let slot = current.get_mut(key).ok_or("missing")?;
            let slot = match index {
                Some(i) => slot.as_array_mut().and_then(|a| a.get_mut(i)).ok_or("not an array entry")?,
                None => slot,
            };
            *slot = toml::Value::String(value);
            return Ok(());
        }
        current = current.get_mut(key).and_then(toml::Value::as_table_mut).ok_or("not a table")?;
    }
    Err("empty field".into())
}

/// Certifies one cell, writes its certificate atomically and returns its results line.
fn run_cell(plan: &Plan, cell: &Cell, out_dir: &Path, order: Option<usize>) -> Result<Value, SweepError> {
    let (loaded, cell_spec) = load_cell_in(plan, cell, &out_dir.join("certs"))?;
    // Tight unless the spec's [solver] accuracy says otherwise: the paper's tables and their
    // certificates are reproduced bit for bit.
    let accuracy = loaded.solver.accuracy.unwrap_or(crate::certify::Accuracy::Tight);
    let options = Options { accuracy, ..Options::from_solver(&loaded.solver, order) };
    let problem = &loaded.problem;
    let result = certify(problem, &options).map_err(|e| SweepError::data(format!("{} (cell {}): {e}", plan.label, cell.key())))?;
    let theory = crate::theory::theory_bounds(problem);
    let cert_name = certificate_name(&cell.key());
    let mut certificate = Certificate::new(&loaded, &result);
    {
        // The cell's own spec beside its certificate, so that `ntkcert check` finds it
        // (`spec.path` is relative to the certificate's directory; so are its data paths).
        let spec_name = cert_name.replace(".json", ".toml");
        write_atomically(&out_dir.join(&spec_name), cell_spec.as_bytes())
            .map_err(|e| SweepError::cant_create(format!("cannot write '{}': {e}", out_dir.join(&spec_name).display())))?;
        let beside = Path::new(&spec_name).file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        certificate.value["spec"]["path"] = Value::from(beside);
    }
    certificate
        .write_atomically(&out_dir.join(&cert_name))
        .map_err(|e| SweepError::cant_create(format!("cannot write certificate '{}': {e}", out_dir.join(&cert_name).display())))?;
    let claims = certificate.value["claims"].clone();
    let exact = |q: &num_rational::BigRational| grid::decimal_text(q);
    let values: serde_json::Map<String, Value> = cell.values.iter().map(|(f, v)| (f.clone(), Value::String(v.text.clone()))).collect();
    let up = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    let mut bounds = serde_json::Map::new();
    for b in &theory.bounds {
        bounds.insert(b.key.to_string(), up(b.value));
    }
    let mut theory_json = json!({
        "kappa": interval_json(theory.kappa),
        "lip_h": up(theory.lip_h),
        "lip_dh_local": up(theory.lip_dh_local),
        "reach": up(theory.reach),
    });
    if let Value::Object(m) = &mut theory_json {
        m.extend(bounds);
    }
    Ok(json!({
        "format": RESULTS_FORMAT,
        "key": cell.key(),
        "index": cell.index,
        "cells": plan.cells.len(),
        "base_sha256": plan.base_sha256,
        "spec_sha256": loaded.spec_sha256,
        "values": values,
        "name": problem.name,
        "alpha": exact(&problem.alpha.value),
        "horizon": exact(&problem.horizon.value),
        "tolerance": exact(&problem.tolerance.value),
        "num_params": problem.num_params(),
        "verdict": verdict_name(result.verdict),
        "reason": result.reason,
        // The certificate's claims, exactly (a text "x * 2^e" where not an f64).
        "sup_deviation": claims["sup_deviation"],
        "final_deviation": claims["final_deviation"],
        "r0": claims["r0"],
        "theory": theory_json,
        "steps": result.steps,
        "seconds": result.seconds,
        "certificate": cert_name,
    }))
}

/// Writes rows as a results file, atomically.
fn write_rows(path: &Path, rows: &[Row]) -> Result<(), SweepError> {
    let mut text = String::new();
    for r in rows {
        text.push_str(&r.value.to_string());
        text.push('\n');
    }
    write_atomically(path, text.as_bytes())
        .map_err(|e| SweepError::cant_create(format!("cannot write results file '{}': {e}", path.display())))
}

/// Joins results files (shards) into `out`, in cell order, one line per cell. Lines must come
/// from the same base spec; a cell present twice must have the same enclosure of sup D.
/// Certificate paths are rewritten relative to `out`'s directory.
pub fn merge_files(inputs: &[PathBuf], out: &Path) -> Result<String, SweepError> {
    let out_dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut by_key: BTreeMap<(u64, String), Row> = BTreeMap::new();
    let mut base: Option<String> = None;
    let mut total: Option<u64> = None;
    for p in inputs {
        let (rows, _) = read_rows(p, false)?;
        for mut row in rows {
            let b = row.str_field("base_sha256").unwrap_or("").to_string();
            match &base {
                None => base = Some(b),
                Some(x) if *x != b => {
                    return Err(SweepError::data(format!("{}: line for cell {} comes from a different base spec", p.display(), row.key())))
                }
                _ => {}
            }
            total = total.or(row.value["cells"].as_u64());
            if let Some(cert) = row.certificate_path() {
                let rel = relative_to(&cert, &out_dir);
                row.value["certificate"] = Value::String(rel);
                row.dir = out_dir.clone();
            }
            let k = (row.index(), row.key().to_string());
            if let Some(prev) = by_key.get(&k) {
                if prev.value["sup_deviation"] != row.value["sup_deviation"] {
                    return Err(SweepError::data(format!("{}: cell {} appears twice with different results", p.display(), row.key())));
                }
                continue;
            }
            by_key.insert(k, row);
        }
    }
    let rows: Vec<Row> = by_key.into_values().collect();
    write_rows(out, &rows)?;
    let missing = total.map(|t| t as usize).unwrap_or(rows.len()).saturating_sub(rows.len());
    Ok(if missing == 0 {
        format!("merged {} cells into {}", rows.len(), out.display())
    } else {
        format!("merged {} cells into {}; {missing} cells of the grid are missing", rows.len(), out.display())
    })
}

/// `path` relative to `dir` when `path` lies under it (or both are relative with a common
/// prefix), else `path` as it is.
fn relative_to(path: &Path, dir: &Path) -> String {
    let clean = |p: &Path| -> PathBuf { p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect() };
    let (p, d) = (clean(path), clean(dir));
    match p.strip_prefix(&d) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => match (std::fs::canonicalize(path), std::fs::canonicalize(dir)) {
            (Ok(p), Ok(d)) => p.strip_prefix(&d).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string()),
            _ => path.display().to_string(),
        },
    }
}
