//! `BANK_ACCOUNT` and `KR_HEALTH_INSURANCE`: neither has a public check digit, so a digit
//! group only counts next to a bank name / account word or a health-insurance word.

use crate::cue::Cue;
use crate::detect::numeric::{Cand, Sep};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;

const BEFORE: usize = 48;
const AFTER: usize = 30;

/// Detects an account or health-insurance number candidate.
pub(crate) fn detect(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    let n = c.digits.len();
    if !c.seps_in(&[Sep::Hyphen, Sep::Space]) || c.groups.len() > 5 {
        return None;
    }
    let cues = ctx.cues;
    let health = cues.distance_before(Cue::HEALTH, c.start, BEFORE);
    let bank = cues.distance_before(Cue::BANK, c.start, BEFORE);
    let closest = match (health, bank) {
        (Some(h), Some(b)) => Some(if h <= b { Cue::HEALTH } else { Cue::BANK }),
        (Some(_), None) => Some(Cue::HEALTH),
        (None, Some(_)) => Some(Cue::BANK),
        (None, None) => {
            if cues.first_after(Cue::HEALTH, c.end, AFTER).is_some() {
                Some(Cue::HEALTH)
            } else if cues.first_after(Cue::BANK, c.end, AFTER).is_some() {
                Some(Cue::BANK)
            } else {
                None
            }
        }
    };
    match closest {
        Some(k) if k == Cue::HEALTH && (8..=13).contains(&n) => {
            Some(Hit::new(c.start, c.end, Label::KrHealthInsurance, 0.8))
        }
        Some(k) if k == Cue::BANK && (10..=16).contains(&n) => {
            Some(Hit::new(c.start, c.end, Label::BankAccount, 0.8))
        }
        _ => None,
    }
}
