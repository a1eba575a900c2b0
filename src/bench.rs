//! `ntkcert bench`: certify against simulate on the same spec, measured side by side in one
//! run, with the figures the benchmark table asks for; with `--check`, the independent checker
//! on the certificate too (its time against certify's, and the certificate's size); and, where
//! `python3` with numpy and scipy is available, the float solve a user would write (scipy's
//! DOP853 at rtol = atol = 1e-13, `benches/mlp_dop853.py`), interleaved with the others.

use crate::certificate::Certificate;
use crate::certify::{certify, Options};
use crate::simulate::simulate;
use crate::problem::{Activation, Architecture, Parameterization, Problem};
use crate::error::Error;
use std::path::PathBuf;

/// Peak resident memory of this process so far (VmHWM), in MiB, where the OS reports it.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `max_memory`: every spec is loaded within this limit (`spec::load_within`), before it runs.
pub fn run(specs: &[PathBuf], repeat: usize, with_check: bool, max_memory: u64) -> Result<(), Error> {
    let limit = crate::resources::MemoryLimit { bytes: max_memory, order: None, engine: crate::resources::Engine::Certify };
    let default = [PathBuf::from("specs/bench/gf-mlp-small.toml")];
    let specs = if specs.is_empty() { &default[..] } else { specs };
    let repeat = repeat.max(1);
    // Every spec is read (and its memory estimated) before anything is printed.
    let loaded_specs = specs.iter().map(|path| crate::spec::load_within(path, &limit)).collect::<Result<Vec<_>, _>>()?;
    print!(
        "{:<22} {:>7} {:>6} {:>10} {:>10} {:>7} {:>11} {:>11} {:>9}",
        "spec", "p", "steps", "simulate s", "certify s", "ratio", "out width", "supD relw", "peak MiB"
    );
    print!(" {:>9} {:>8}", "dop853 s", "cert/dop");
    if with_check {
        print!(" {:>9} {:>9} {:>8}", "check s", "chk/cert", "cert kB");
    }
    println!();
    for (path, loaded) in specs.iter().zip(loaded_specs) {
        let options = Options::from_solver(&loaded.solver, None);
        let mut sim_best = f64::INFINITY;
        let mut cert_best = f64::INFINITY;
        let mut check_best = f64::INFINITY;
        let mut certificate_bytes = 0;
        let mut last = None;
        let mut sim_steps = 0;
        let mut dop_best = f64::INFINITY;
        let float_solve = FloatSolve::prepare(&loaded.problem);
        let mut dop_skipped = float_solve.as_ref().err().cloned();
        // Interleave the two so that machine noise hits both alike.
        for _ in 0..repeat {
            if let Ok(f) = &float_solve {
                match f.run() {
                    Ok(seconds) => dop_best = dop_best.min(seconds),
                    Err(why) => dop_skipped = Some(why),
                }
            }
            let sim = simulate(&loaded.problem, options.first_pass());
            sim_best = sim_best.min(sim.seconds);
            sim_steps = sim.steps;
            let cert = match certify(&loaded.problem, &options) {
                Ok(c) => c,
                Err(e) => return Err(Error::invalid(format!("{}: {e}", path.display()))),
            };
            cert_best = cert_best.min(cert.seconds);
            if with_check {
                let certificate = Certificate::new(&loaded, &cert);
                let started = std::time::Instant::now();
                if let Err(e) = crate::check::check_value(&certificate.value, &loaded) {
                    return Err(Error::invalid(format!("{}: the checker did not confirm the certificate: {e:?}", path.display())));
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
        if dop_skipped.is_none() && dop_best.is_finite() {
            print!(" {:>9.4} {:>8.1}", dop_best, cert_best / dop_best);
        } else {
            print!(" {:>9} {:>8}", "-", "-");
        }
        if with_check {
            print!(" {:>9.4} {:>9.2} {:>8.1}", check_best, check_best / cert_best, certificate_bytes as f64 / 1000.0);
        }
        println!();
        if let Some(why) = dop_skipped {
            println!("  (dop853 column skipped for {}: {why})", loaded.problem.name);
        }
    }
    Ok(())
}

/// The float solve of a spec by `benches/mlp_dop853.py`: the problem's f64 midpoints written to
/// `.npy` files in a temporary directory.
struct FloatSolve {
    dir: tempfile::TempDir,
    args: Vec<String>,
}

impl FloatSolve {
    /// The script's path (in the source tree this binary was built from).
    const SCRIPT: &'static str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/mlp_dop853.py");

    /// `Err(why)` when the script does not cover the model (it solves centred tanh MLPs in NTK
    /// parameterisation without biases and with one output) or cannot run here.
    fn prepare(problem: &Problem) -> Result<FloatSolve, String> {
        let Architecture::Mlp(arch) = &problem.architecture else { return Err("not an MLP".into()) };
        let supported = problem.centred
            && !arch.bias
            && arch.parameterization == Parameterization::Ntk
            && arch.output_dim() == 1
            && arch.activations.iter().all(|&a| a == Activation::Tanh);
        if !supported {
            return Err("the float solve covers centred tanh MLPs, NTK parameterisation, no biases, one output".into());
        }
        let probe = std::process::Command::new("python3").args(["-c", "import numpy, scipy"]).output();
        if !probe.is_ok_and(|o| o.status.success()) {
            return Err("no python3 with numpy and scipy".into());
        }
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let n = problem.num_inputs();
        let d = arch.input_dim();
        let mids = |v: &[inari::Interval]| v.iter().map(|x| x.mid()).collect::<Vec<f64>>();
        let write = |name: &str, shape: &[usize], values: &[f64]| -> Result<String, String> {
            let path = dir.path().join(name);
            std::fs::write(&path, crate::spec::data::npy_f64_bytes(shape, values)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(path.display().to_string())
        };
        let inputs: Vec<f64> = problem.inputs.iter().flat_map(|x| mids(x)).collect();
        let mut args = vec![
            Self::SCRIPT.to_string(),
            write("x.npy", &[n, d], &inputs)?,
            write("y.npy", &[n], &mids(&problem.targets))?,
            format!("{:e}", problem.alpha.enclosure.mid()),
            format!("{:e}", problem.horizon.enclosure.mid()),
        ];
        let net = crate::model::mlp::Mlp::<inari::Interval>::new(arch, &problem.inputs);
        for l in 1..=arch.num_layers() {
            let w = mids(net.weights(&problem.params0, l));
            args.push(write(&format!("w{l}.npy"), &[arch.widths[l], arch.widths[l - 1]], &w)?);
        }
        Ok(FloatSolve { dir, args })
    }

    /// One solve: the script's own wall time (interpreter start and loading excluded).
    fn run(&self) -> Result<f64, String> {
        // Some machines set OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for old OpenBLAS builds; they slow a
        // current numpy, and the baseline should be what a user's numpy does.
        let out = std::process::Command::new("python3")
            .args(&self.args)
            .env_remove("OPENBLAS_CORETYPE")
            .env_remove("OPENBLAS_L2_SIZE")
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("python3 did not run: {e}"))?;
        if !out.status.success() {
            return Err(format!("the float solve failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")));
        }
        let line: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("unexpected output of the float solve: {e}"))?;
        line["seconds"].as_f64().ok_or_else(|| "the float solve printed no time".to_string())
    }
}
