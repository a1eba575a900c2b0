use ntkcert::reference::{reference, ReferenceOptions};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let loaded = ntkcert::spec::load(std::path::Path::new(&path)).unwrap();
    let r = reference(&loaded.problem, &ReferenceOptions { precision_bits: 200, macro_steps: 8, levels: 14, samples: 9 });
    println!("D(T) = {:.25}  err {:.3e}", r.final_deviation, r.error_estimate.to_f64());
    for o in &r.outputs_final { println!("out {:.25}", o); }
    for o in &r.linear_outputs_final { println!("lin {:.25}", o); }
}
