//! Evaluation tooling for `nuri-pii`: a seeded generator of labelled Korean/English chat text
//! ([`gen`]), a scorer ([`score`]) and a generator of bulk mixed text for throughput runs.

pub mod gen;
pub mod rng;
pub mod score;
pub mod values;

/// Appends mixed chat text (documents of [`gen`] separated by new lines) to `out` until it
/// holds at least `bytes` bytes.
pub fn bulk_text(seed: u64, bytes: usize, out: &mut String) {
    let mut r = rng::Rng::new(seed);
    while out.len() < bytes {
        let d = gen::document(&mut r);
        out.push_str(&d.text);
        out.push('\n');
    }
}
