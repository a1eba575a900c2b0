//! SCRATCH (not to be committed): certify at Relative(1e-4) (and tight) and run the checker.
//! SPECS=a.toml,b.toml ACC=1e-4|tight cargo test --release --test scratch_loose_check -- --ignored --nocapture
use ntkcert::certify::{certify, Accuracy, Options};
use ntkcert::check::{check_value, CheckError};
use std::path::Path;

const DEFAULT_SPECS: &[&str] = &[
    "specs/examples/mlp-csv.toml",
    "specs/examples/mlp-inline.toml",
    "specs/examples/mlp-npy.toml",
    "specs/examples/mlp-safetensors.toml",
    "specs/examples/tightness.toml",
    "specs/bench/gf-mlp-small.toml",
    "specs/bench/gf-mlp-capd-edge.toml",
    "specs/bench/gf-mlp-mid.toml",
];

#[test]
#[ignore]
fn scratch_loose_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let specs: Vec<String> = match std::env::var("SPECS") {
        Ok(s) => s.split(',').map(String::from).collect(),
        Err(_) => DEFAULT_SPECS.iter().map(|s| s.to_string()).collect(),
    };
    let accuracy = match std::env::var("ACC").as_deref() {
        Ok("tight") => Accuracy::Tight,
        Ok(s) => Accuracy::Relative(s.parse().unwrap()),
        Err(_) => Accuracy::Relative(1e-4),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = 0;
    for spec in &specs {
        let path = root.join(spec);
        let loaded = ntkcert::spec::load(&path).unwrap();
        let options = Options { accuracy, ..Options::from_solver(&loaded.solver, None) };
        let options = Options { accuracy, ..options };
        let result = certify(&loaded.problem, &options).unwrap();
        let mut cert = ntkcert::certificate::Certificate::new(&loaded, &result);
        cert.value["spec"]["path"] = serde_json::Value::from(path.display().to_string());
        let out = dir.path().join("cert.json");
        cert.write_atomically(&out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        if std::env::var_os("NTKCERT_CHECK_TRACE").is_some() {
            for (k, r) in result.step_records.iter().enumerate() {
                eprintln!("CERT k={k} h={:.3e} e={:.3e} e_t={:.3e} mu={:.3e} lin_rad={:.3e}", r.h, r.radius, r.tube_radius, r.mu, r.linear_radius);
            }
        }
        let started = std::time::Instant::now();
        let outcome = check_value(&value, &loaded);
        let secs = started.elapsed().as_secs_f64();
        let width = result.outputs_final.iter().map(|x| x.wid()).fold(0.0, f64::max);
        let sup = result.sup_deviation;
        let verdict = match outcome {
            Ok(()) => "valid".to_string(),
            Err(CheckError::Invalid(m)) => {
                failures += 1;
                format!("invalid: {m}")
            }
            Err(e) => {
                failures += 1;
                format!("{e:?}")
            }
        };
        println!(
            "{spec}: {:?} steps {} passes {} order {} out claim width {:.3e} supD claim [{:e}, {:e}] relw {:.2e}; certify {:.3} s, check {:.3} s: {verdict}",
            result.verdict,
            result.steps,
            result.passes,
            result.order,
            width,
            sup.inf(),
            sup.sup(),
            sup.wid() / sup.sup(),
            result.seconds,
            secs
        );
    }
    println!("{failures} refused");
}

/// Compare the coefficient q+1 over the same tube: certifier (endpoint, balls) vs checker.
#[test]
#[ignore]
fn scratch_box_compare() {
    use ntkcert::arith::fast_interval::FastInterval;
    use ntkcert::check::series::{FlowData, Net};
    use ntkcert::enclose::poly;
    use ntkcert::model::ball_vec::BallVec;
    use ntkcert::model::flow::GradientFlow;
    use ntkcert::model::coeffs::CoeffVec;
    use ntkcert::arith::scalar::Scalar;
    use inari::Interval;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = std::env::var("SPEC").unwrap_or("specs/examples/mlp-csv.toml".into());
    let h: f64 = std::env::var("H").map(|s| s.parse().unwrap()).unwrap_or(0.3387);
    let reach_f: f64 = std::env::var("REACH").map(|s| s.parse().unwrap()).unwrap_or(2.0);
    let loaded = ntkcert::spec::load(&root.join(&spec)).unwrap();
    let problem = &loaded.problem;
    let init = ntkcert::certify::InitialState::new(problem);
    let q = 16;
    let centre: Vec<f64> = problem.params0.iter().map(|v| v.mid()).collect();
    let mut flow = GradientFlow::<BallVec>::new(problem, init.offset.as_deref());
    let mut box_flow = GradientFlow::<Vec<FastInterval>>::new(problem, init.offset.as_deref());
    let pt = flow.expand(&BallVec { mid: centre.clone(), rad: vec![0.0; centre.len()] }, q).to_intervals();
    let reach = poly::horner(&pt.params[..=q], FastInterval { lo: 0.0, hi: reach_f * h });
    let cand: Vec<FastInterval> = reach.iter().map(|r| { let pad = 0.05 * (r.hi - r.lo); FastInterval { lo: r.lo - pad, hi: r.hi + pad } }).collect();
    let tube: Vec<Interval> = cand.iter().map(|b| b.to_inari()).collect();
    let ep = box_flow.expand(&cand, q + 1).to_intervals();
    let balls = BallVec::from_scalars(&tube.iter().map(|&v| ntkcert::arith::ball::Ball::from_interval(v)).collect::<Vec<_>>());
    let bp = flow.expand(&balls, q + 1).to_intervals();
    // checker
    let net = Net::new(problem).unwrap();
    let alpha_q = ntkcert::check::series::to_rug(&problem.alpha.value);
    let alpha = ntkcert::check::ball::Ball::from_rational(&alpha_q);
    let inv_alpha = ntkcert::check::ball::Ball::from_rational(&rug::Rational::from(alpha_q.recip_ref()));
    let targets: Vec<_> = problem.targets.iter().map(|y| ntkcert::check::ball::Ball::from_interval(y.inf(), y.sup())).collect();
    let w0: Vec<_> = problem.params0.iter().map(|x| ntkcert::check::ball::Ball::from_interval(x.inf(), x.sup())).collect();
    let plain = FlowData { net: &net, alpha: alpha.clone(), inv_alpha: inv_alpha.clone(), targets: targets.clone(), offset: None };
    let h0 = plain.expand(w0.clone(), 0).out.swap_remove(0);
    let fd = FlowData { net: &net, alpha, inv_alpha, targets, offset: problem.centred.then(|| h0) };
    let cb: Vec<_> = tube.iter().map(|t| ntkcert::check::ball::Ball::from_interval(t.inf(), t.sup())).collect();
    let ck = fd.expand(cb, q + 1);
    println!("tube max width {:.3e}", tube.iter().map(|t| t.wid()).fold(0.0, f64::max));
    for j in [1, 2, 4, 8, 12, 16, 17] {
        let w_ep = ep.params[j].iter().map(|v| v.wid()).fold(0.0, f64::max);
        let w_bp = bp.params[j].iter().map(|v| v.wid()).fold(0.0, f64::max);
        let w_ck = ck.w[j].iter().map(|v| 2.0 * v.r).fold(0.0, f64::max);
        let m_pt = if j <= q { pt.params[j].iter().map(|v| v.mag()).fold(0.0, f64::max) } else { f64::NAN };
        println!("order {j}: point |u_j| {m_pt:.3e}; width endpoint {w_ep:.3e} ball {w_bp:.3e} checker {w_ck:.3e}");
    }
}
