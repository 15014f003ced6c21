//! The targets on a fixed-seed evaluation set (small enough for a debug build):
//! micro F1 ≥ 0.95 overall, ≥ 0.99 on checksum-bearing labels, hard-negative false alarms < 1%.

use nuri_pii::Scanner;
use nuri_pii_eval::{gen, score};

#[test]
fn targets_hold_on_fixed_seed() {
    let docs = gen::generate(4242, 4000);
    let rep = score::score(&Scanner::new(), &docs);
    let md = rep.to_markdown();
    let all = rep.micro(true).f1();
    let checksum = rep.micro_checksum(true).f1();
    assert!(all >= 0.95, "micro F1 {all:.4} < 0.95\n{md}");
    assert!(
        checksum >= 0.99,
        "checksum micro F1 {checksum:.4} < 0.99\n{md}"
    );
    assert!(
        rep.false_alarm_rate() < 0.01,
        "false alarms {:.4}\n{md}",
        rep.false_alarm_rate()
    );
    assert!(
        rep.negatives > 3000 && rep.micro(true).tp > 6000,
        "set too small\n{md}"
    );
}

#[test]
fn generator_is_deterministic() {
    let a = gen::generate(9, 50);
    let b = gen::generate(9, 50);
    assert!(a
        .iter()
        .zip(&b)
        .all(|(x, y)| x.text == y.text && x.gold == y.gold));
    for d in &a {
        for g in &d.gold {
            assert!(d.text.is_char_boundary(g.start) && d.text.is_char_boundary(g.end));
        }
    }
}
