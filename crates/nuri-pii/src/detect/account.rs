//! `BANK_ACCOUNT` and `KR_HEALTH_INSURANCE`: neither has a public check digit, so a digit
//! group only counts next to a bank name / account word or a health-insurance word.

use crate::cue::Cue;
use crate::detect::numeric::{Cand, Sep};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;

const BEFORE: usize = 20;
/// After the number only a bank in parentheses right behind it counts: `123-45-6789 (신한은행)`.
const AFTER: usize = 4;

/// Whether a bank or health-insurance cue sits right before the candidate (and no phone cue),
/// so the number is tried as an account before it is tried as a phone number.
pub(crate) fn strong_context(ctx: &Ctx<'_>, c: &Cand<'_>) -> bool {
    let cues = ctx.cues;
    (10..=16).contains(&c.digits.len())
        && (cues.nearest_before_free(Cue::BANK, c.start, 16).is_some()
            || cues.nearest_before_free(Cue::HEALTH, c.start, 28).is_some())
        && !cues.near(Cue::PHONE, c.start, c.end, 32, 8)
}

/// Business hotlines (`1588-1234`) and Korean EAN-13 barcodes (`880…`) are neither.
fn hotline_or_barcode(c: &Cand<'_>) -> bool {
    let d = c.digits;
    let hotline = d.len() == 8 && d[0] == 1 && matches!(d[1], 5 | 6 | 8);
    let barcode = d.len() == 13
        && c.groups.len() == 1
        && d.starts_with(&[8, 8, 0])
        && <[u8; 13]>::try_from(d).is_ok_and(|a| crate::checksum::ean13_check(&a));
    hotline || barcode
}

/// A `YYYY-MM-DD` / `YYYY.MM.DD` date.
fn is_date(c: &Cand<'_>) -> bool {
    let d = c.digits;
    c.lens() == [4, 2, 2] && matches!(d[0], 1 | 2) && {
        let m = d[4] * 10 + d[5];
        let day = d[6] * 10 + d[7];
        (1..=12).contains(&m) && (1..=31).contains(&day)
    }
}

/// Detects an account or health-insurance number candidate.
pub(crate) fn detect(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    let n = c.digits.len();
    if !(10..=16).contains(&n)
        || !c.seps_in(&[Sep::Hyphen, Sep::Space])
        || c.groups.len() > 5
        || is_date(c)
    {
        return None;
    }
    let cues = ctx.cues;
    if cues.near(Cue::NEGATIVE, c.start, c.end, 10, 0) || hotline_or_barcode(c) {
        return None;
    }
    // "건강보험 가입자 번호는 …": insurance labels run longer than bank ones.
    let health = cues.distance_before(Cue::HEALTH, c.start, BEFORE + 12);
    let bank = cues.distance_before(Cue::BANK, c.start, BEFORE);
    let closest = match (health, bank) {
        (Some(h), Some(b)) => Some(if h <= b { Cue::HEALTH } else { Cue::BANK }),
        (Some(_), None) => Some(Cue::HEALTH),
        (None, Some(_)) => Some(Cue::BANK),
        (None, None) => {
            // Only "123-456 (신한은행)" / "123-456 신한은행": a bank right behind the number.
            let gap_ok = |h: &crate::cue::CueHit| {
                matches!(ctx.bytes.get(c.end..h.start), Some(b" (" | b"("))
            };
            if cues
                .first_after(Cue::HEALTH, c.end, AFTER)
                .is_some_and(gap_ok)
            {
                Some(Cue::HEALTH)
            } else if cues
                .first_after(Cue::BANK, c.end, AFTER)
                .is_some_and(gap_ok)
            {
                Some(Cue::BANK)
            } else {
                None
            }
        }
    };
    match closest {
        Some(k) if k == Cue::HEALTH && (10..=13).contains(&n) => {
            Some(Hit::new(c.start, c.end, Label::KrHealthInsurance, 0.8))
        }
        Some(k) if k == Cue::BANK && (10..=16).contains(&n) => {
            Some(Hit::new(c.start, c.end, Label::BankAccount, 0.8))
        }
        _ => None,
    }
}
