//! `CARD`: payment card numbers (ISO/IEC 7812): a known issuer range, a length that range
//! uses, the usual grouping, and a valid Luhn check digit.

use crate::checksum::luhn;
use crate::cue::Cue;
use crate::detect::numeric::{Cand, Sep};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;

/// Whether `d` starts with an issuer range that issues numbers of its length.
pub(crate) fn issuer_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| d.iter().take(k).fold(0u32, |a, &x| a * 10 + u32::from(x));
    match d.first() {
        // Visa: 13, 16, 19.
        Some(4) => matches!(n, 13 | 16 | 19),
        // Mastercard 51-55 and 2-series 2221-2720.
        Some(5) => (51..=55).contains(&p(2)) && n == 16,
        Some(2) => (2221..=2720).contains(&p(4)) && n == 16,
        // Amex 34/37 (15), Diners 300-305/36/38/39 (14, 16), JCB 3528-3589 (16-19).
        Some(3) => {
            let two = p(2);
            ((two == 34 || two == 37) && n == 15)
                || ((300..=305).contains(&p(3)) || two == 36 || two == 38 || two == 39)
                    && matches!(n, 14 | 16)
                || (3528..=3589).contains(&p(4)) && (16..=19).contains(&n)
        }
        // Discover 6011/644-649/65, UnionPay 62 (16-19).
        Some(6) => {
            (p(4) == 6011 || (644..=649).contains(&p(3)) || p(2) == 65 || p(2) == 62)
                && (16..=19).contains(&n)
        }
        // Korean domestic (local-only) cards, e.g. BC 94xx/95xx ranges: 16 digits.
        Some(9) => n == 16 && matches!(d.get(1), Some(4 | 5)),
        _ => false,
    }
}

/// Whether the grouping is one that cards are written in.
fn grouping_ok(c: &Cand<'_>) -> bool {
    let lens = c.lens();
    if lens.len() == 1 {
        return true;
    }
    if !c.uniform() || !c.seps_in(&[Sep::Hyphen, Sep::Space, Sep::Dot]) {
        return false;
    }
    let fours = lens.iter().take(lens.len() - 1).all(|&l| l == 4);
    let last = lens.last().copied().unwrap_or(0);
    (fours && (1..=4).contains(&last)) || lens == [4, 6, 5] || lens == [4, 6, 4]
}

/// Detects a card number candidate.
pub(crate) fn detect(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    let n = c.digits.len();
    if !(13..=19).contains(&n) || !issuer_ok(c.digits) || !luhn(c.digits) || !grouping_ok(c) {
        return None;
    }
    let card_cue = ctx.cues.near(Cue::CARD, c.start, c.end, 48, 24);
    let negative = ctx.cues.near(Cue::NEGATIVE, c.start, c.end, 32, 0);
    let grouped = c.groups.len() > 1;
    // "계좌번호는 38522651266628": an account that happens to pass Luhn.
    let bank = ctx
        .cues
        .nearest_before_free(Cue::BANK, c.start, 16)
        .is_some();
    if (negative || bank) && !card_cue {
        return None;
    }
    let conf = match (grouped, card_cue) {
        (_, true) => 0.99,
        (true, false) => 0.95,
        (false, false) => 0.85,
    };
    Some(Hit::new(c.start, c.end, Label::Card, conf))
}
