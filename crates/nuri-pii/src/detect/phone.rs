//! `PHONE`: Korean mobile (010, 011, 016-019), landline (02, 031-064), internet (070) and
//! safe numbers (050x) in every common spelling, `+82` forms, and international E.164 numbers
//! written with `+`. Business hotlines (15xx/16xx/18xx-xxxx) and toll-free 080 are not
//! personal and are left alone. Rules and sources: docs/pii.md.

use crate::cue::Cue;
use crate::detect::numeric::{Cand, Sep};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;

/// Length of the Korean area/mobile prefix (with trunk `0`) and the allowed subscriber
/// lengths, or `None` when `d` (national form) is not a personal Korean number.
fn korean_prefix(d: &[u8]) -> Option<(usize, &'static [usize])> {
    if d.first() != Some(&0) {
        return None;
    }
    let a = d.get(1).copied()?;
    let b = d.get(2).copied()?;
    match (a, b) {
        (1, 0) => Some((3, &[8])),
        (1, 1 | 6..=9) => Some((3, &[7, 8])),
        (2, _) => Some((2, &[7, 8])),
        (3, 1..=3) | (4, 1..=4) | (5, 1..=5) | (6, 1..=4) => Some((3, &[7, 8])),
        (7, 0) => Some((3, &[8])),
        // 050x personal "safe numbers" (안심번호): 4-digit prefix, 8 digits after.
        (5, 0) => Some((4, &[8])),
        _ => None,
    }
}

/// Validates a Korean national-form number (starting with `0`) against its grouping.
fn korean(d: &[u8], lens: &[usize]) -> bool {
    let Some((plen, subs)) = korean_prefix(d) else {
        return false;
    };
    let sub = d.len().saturating_sub(plen);
    if d.len() <= plen || !subs.contains(&sub) {
        return false;
    }
    match lens {
        [_] => true,
        [p, m, l] => *p == plen && (*m == 3 || *m == 4) && *l == 4,
        // "02 1234 5678" without separators inside the subscriber part is rare but seen.
        [p, rest] => *p == plen && subs.contains(rest),
        _ => false,
    }
}

/// Detects a phone number candidate.
pub(crate) fn detect(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    let d = c.digits;
    let lens = c.lens();
    let mixed_ok = c.seps_in(&[Sep::Hyphen, Sep::Space, Sep::Dot, Sep::Paren]);
    if !mixed_ok {
        return None;
    }
    if !(7..=15).contains(&d.len()) {
        return None;
    }
    let cue = || ctx.cues.near(Cue::PHONE, c.start, c.end, 32, 16);
    if c.plus {
        return international(d, lens, c, cue());
    }
    if c.groups.iter().skip(1).any(|g| g.sep == Sep::Dot) && !c.all_seps(Sep::Dot) {
        return None;
    }
    if korean(d, lens) {
        let conf = if lens.len() > 1 || cue() { 0.95 } else { 0.85 };
        return Some(Hit::new(c.start, c.end, Label::Phone, conf));
    }
    // Without `+`: "82-10-1234-5678" or "82 10 1234 5678" (country code then national).
    if d.len() >= 11 && d[0] == 8 && d[1] == 2 && lens.first() == Some(&2) && lens.len() > 1 {
        let mut nat = vec![0u8];
        nat.extend_from_slice(&d[2..]);
        if korean(&nat, &[nat.len()]) {
            return Some(Hit::new(c.start, c.end, Label::Phone, 0.85));
        }
    }
    None
}

/// `+` forms: `+82 10-1234-5678`, `+82-2-123-4567`, `+82 (0)10…`, `+1 415 555 2671`.
fn international(d: &[u8], lens: &[usize], c: &Cand<'_>, cue: bool) -> Option<Hit> {
    if d.len() > 15 || d.len() < 8 || d.first() == Some(&0) {
        return None;
    }
    if d.starts_with(&[8, 2]) {
        let rest = &d[2..];
        let mut nat = Vec::with_capacity(rest.len() + 1);
        if rest.first() != Some(&0) {
            nat.push(0);
        }
        nat.extend_from_slice(rest);
        let ok = korean_prefix(&nat).is_some_and(|(p, subs)| subs.contains(&(nat.len() - p)));
        return ok.then(|| Hit::new(c.start, c.end, Label::Phone, 0.95));
    }
    // Other countries: E.164 allows up to 15 digits; we ask for at least 8 and a grouping
    // that is not a date-like 4-2-2.
    if lens == [4, 2, 2] {
        return None;
    }
    let conf = if cue || lens.len() > 1 { 0.9 } else { 0.8 };
    Some(Hit::new(c.start, c.end, Label::Phone, conf))
}
