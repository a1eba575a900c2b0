use inari::Interval;
use ntkcert::model::flow::GradientFlow;
fn main() {
    let loaded = ntkcert::spec::load(std::path::Path::new("specs/bench/gf-mlp-small.toml")).unwrap();
    let p = &loaded.problem;
    let c: Vec<f64> = p.params0.iter().map(|v| v.mid()).collect();
    let off = GradientFlow::<Interval>::new(p, None).outputs_at(&p.params0);
    let mut flow = GradientFlow::<Interval>::new(p, Some(&off));
    for r in [0.0, 1e-9, 1e-7] {
        let b: Vec<Interval> = c.iter().map(|&x| Interval::try_from((x - r, x + r)).unwrap()).collect();
        let e = flow.expand(&b, 0);
        let wf: Vec<f64> = e.params[1].iter().map(|v| v.wid()).collect();
        let wh: Vec<f64> = e.outputs[0].iter().map(|v| v.wid()).collect();
        println!("r={r:e} max width F {:e} (F36 {:?}) max width h {:e}", wf.iter().cloned().fold(0./0., f64::max), e.params[1][36], wh.iter().cloned().fold(0./0., f64::max));
    }
}
