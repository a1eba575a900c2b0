//! Developer measurement: the point expansion's ball radii per order (fed back through the
//! recurrence), against the field along a fixed f64 polynomial path (no feedback), and the
//! order q+1 field coefficient over an interval of base points s0 in [0, h].
//! `cargo run --release --example radius_growth [SPEC] [ORDER]`.
use inari::Interval;
use ntkcert::arith::fast_interval::FastInterval;
use ntkcert::model::ball_vec::BallVec;
use ntkcert::model::coeffs::CoeffVec;
use ntkcert::model::flow::GradientFlow;
fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}
fn main() {
    let path = std::env::args().nth(1).unwrap_or("specs/bench/deep-tanh-w128.toml".into());
    let q: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(16);
    let loaded = ntkcert::spec::load(std::path::Path::new(&path)).unwrap();
    let p = &loaded.problem;
    let c: Vec<f64> = p.params0.iter().map(|v| v.mid()).collect();
    let off = GradientFlow::<Vec<Interval>>::new(p, None).outputs_at(&p.params0);
    let start = BallVec { mid: c.clone(), rad: vec![0.0; c.len()] };
    let e = GradientFlow::<BallVec>::new(p, Some(&off)).expand(&start, q);
    let f = GradientFlow::<Vec<f64>>::new(p, Some(&off)).expand(&c, q);
    let path: Vec<BallVec> = f.params.iter().map(|v| BallVec { mid: v.clone(), rad: vec![0.0; v.len()] }).collect();
    let along = GradientFlow::<BallVec>::new(p, Some(&off)).along(&path, q);
    for k in 0..=q {
        let v = &e.params[k + 1];
        let mid = norm(&v.mid);
        let d: Vec<f64> = (0..v.len()).map(|i| (k as f64 + 1.0) * f.params[k + 1][i] - along.field[k].mid[i]).collect();
        println!(
            "k={k:2} |u_k+1|={mid:.3e} fedback rad={:.3e} | along: rad={:.3e} |defect mid|={:.3e}",
            norm(&v.rad),
            norm(&along.field[k].rad),
            norm(&d)
        );
    }
    for h in [0.01, 0.03, 0.1, 0.3] {
        let s = FastInterval { lo: 0.0, hi: h };
        // Shifted coefficients: Q_j = sum_{m>=j} C(m,j) P_m s^(m-j), s in [0,h].
        let deg = q + 1;
        let mut shifted: Vec<Vec<FastInterval>> = Vec::new();
        for j in 0..=deg {
            let coeffs: Vec<Vec<FastInterval>> = (j..=deg)
                .map(|m| {
                    let mut b = 1.0f64;
                    for i in 0..j {
                        b = b * (m - i) as f64 / (i + 1) as f64;
                    }
                    let bb = FastInterval { lo: b * (1.0 - 1e-15), hi: b * (1.0 + 1e-15) };
                    f.params[m].iter().map(|&x| bb * FastInterval::point(x)).collect()
                })
                .collect();
            shifted.push(ntkcert::enclose::poly::horner(&coeffs, s));
        }
        shifted.push(vec![FastInterval::ZERO; c.len()]);
        let t0 = std::time::Instant::now();
        let b = GradientFlow::<Vec<FastInterval>>::new(p, Some(&off)).along(&shifted, q + 1);
        let secs = t0.elapsed().as_secs_f64();
        let top = &b.field[q + 1];
        let mag: Vec<f64> = top.iter().map(|x| x.lo.abs().max(x.hi.abs())).collect();
        let pt = &along.field[q];
        println!(
            "h={h}: |C_(q+1)([0,h])|={:.3e} * h^(q+1) = {:.3e}; point |F[q]| h^q = {:.3e}; |C_1|={:.3e} ({secs:.2}s)",
            norm(&mag),
            norm(&mag) * h.powi(q as i32 + 1),
            norm(&pt.mid) * h.powi(q as i32),
            norm(&b.field[1].iter().map(|x| x.lo.abs().max(x.hi.abs())).collect::<Vec<_>>())
        );
    }
}
