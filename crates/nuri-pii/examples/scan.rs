//! Prints the spans found in each argument (debugging aid).
fn main() {
    let s = nuri_pii::Scanner::new();
    for a in std::env::args().skip(1) {
        for sp in s.scan(&a) {
            println!("{:?} {:?} {:.2}", sp.label, sp.text(&a), sp.confidence);
        }
        println!("--");
    }
}
