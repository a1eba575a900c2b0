use inari::Interval;
use ntkcert::arith::fast_interval::FastInterval;
use ntkcert::model::flow::GradientFlow;
fn main() {
    let path = std::env::args().nth(1).unwrap_or("specs/bench/gf-mlp-capd-edge.toml".into());
    let loaded = ntkcert::spec::load(std::path::Path::new(&path)).unwrap();
    let p = &loaded.problem;
    let c: Vec<f64> = p.params0.iter().map(|v| v.mid()).collect();
    let off = GradientFlow::<Interval>::new(p, None).outputs_at(&p.params0);
    let mut ff = GradientFlow::<f64>::new(p, Some(&off));
    let mut fi = GradientFlow::<FastInterval>::new(p, Some(&off));
    let q = 16;
    let reps = 20;
    let t = std::time::Instant::now();
    for _ in 0..reps { std::hint::black_box(ff.expand(&c, q)); }
    let tf = t.elapsed().as_secs_f64() / reps as f64;
    let ci: Vec<FastInterval> = c.iter().map(|&x| FastInterval::point(x)).collect();
    let t = std::time::Instant::now();
    for _ in 0..reps { std::hint::black_box(fi.expand(&ci, q)); }
    let ti = t.elapsed().as_secs_f64() / reps as f64;
    let bi: Vec<FastInterval> = c.iter().map(|&x| FastInterval { lo: x - 1e-6, hi: x + 1e-6 }).collect();
    let t = std::time::Instant::now();
    for _ in 0..reps { std::hint::black_box(fi.expand(&bi, q + 1)); }
    let tb = t.elapsed().as_secs_f64() / reps as f64;
    println!("f64 {tf:.4e} s, interval point {ti:.4e} s ({:.2}x), interval box q+1 {tb:.4e} s ({:.2}x)", ti / tf, tb / tf);
}
