//! `KR_PASSPORT`: one letter for the passport type (M multiple, S single, R resident,
//! G government, D diplomatic) then 8 digits (before 2021-12) or, on next-generation
//! passports, 3 digits, a letter and 4 digits (`M123A4567`).

use crate::cue::Cue;
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;

/// Checks the ASCII word `w` (`start..end` in the text) for a passport number.
pub(crate) fn detect(ctx: &Ctx<'_>, start: usize, end: usize) -> Option<Hit> {
    let w = ctx.bytes.get(start..end)?;
    if w.len() != 9 || !matches!(w[0], b'M' | b'S' | b'R' | b'G' | b'D') {
        return None;
    }
    let cue = ctx.cues.near(Cue::PASSPORT, start, end, 48, 24);
    let negative = ctx.cues.near(Cue::NEGATIVE, start, end, 32, 0);
    let old = w[1..].iter().all(u8::is_ascii_digit);
    let new = w[1..4].iter().all(u8::is_ascii_digit)
        && w[4].is_ascii_uppercase()
        && w[5..].iter().all(u8::is_ascii_digit);
    let conf = match (old, new, cue) {
        (_, _, true) if old || new => 0.95,
        (_, true, false) if !negative => 0.85,
        (true, _, false) if w[0] == b'M' && !negative => 0.7,
        _ => return None,
    };
    Some(Hit::new(start, end, Label::KrPassport, conf))
}
