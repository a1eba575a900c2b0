//! Cost of one Taylor expansion of the flow in each scalar type (developer measurement:
//! `valgrind --tool=callgrind target/release/examples/expansion_cost MODE [SPEC]`, MODE one of
//! none, f64, fast, ball, box; subtract `none`).
use inari::Interval;
use ntkcert::arith::ball::Ball;
use ntkcert::arith::fast_interval::FastInterval;
use ntkcert::model::flow::GradientFlow;
fn main() {
    let mode = std::env::args().nth(1).unwrap_or("f64".into());
    let path = std::env::args().nth(2).unwrap_or("specs/bench/gf-mlp-capd-edge.toml".into());
    let loaded = ntkcert::spec::load(std::path::Path::new(&path)).unwrap();
    let p = &loaded.problem;
    let c: Vec<f64> = p.params0.iter().map(|v| v.mid()).collect();
    let off = GradientFlow::<Vec<Interval>>::new(p, None).outputs_at(&p.params0);
    let q = 16;
    match mode.as_str() {
        "f64" => { GradientFlow::<Vec<f64>>::new(p, Some(&off)).expand(&c, q); }
        "fast" => {
            let s: Vec<FastInterval> = c.iter().map(|&x| FastInterval::point(x)).collect();
            GradientFlow::<Vec<FastInterval>>::new(p, Some(&off)).expand(&s, q);
        }
        "ball" => {
            let s: Vec<Ball> = c.iter().map(|&x| Ball::point(x)).collect();
            GradientFlow::<Vec<Ball>>::new(p, Some(&off)).expand(&s, q);
        }
        "box" => {
            let s: Vec<FastInterval> = c.iter().map(|&x| FastInterval { lo: x - 1e-6, hi: x + 1e-6 }).collect();
            GradientFlow::<Vec<FastInterval>>::new(p, Some(&off)).expand(&s, q + 1);
        }
        _ => {}
    }
}
