//! Korean national numbers: `KR_RRN`, `KR_FRN`, `KR_CRN` (13 digits, `YYMMDD-GNNNNNC`) and
//! `KR_BRN` (10 digits, `NNN-NN-NNNNC`). Rules and sources: docs/pii.md.

use crate::checksum::{brn_check, crn_check, ean13_check, frn_check, rrn_check};
use crate::cue::Cue;
use crate::detect::numeric::{Cand, Sep};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;

/// Latest birth year the scanner accepts as plausible (numbers are issued at birth).
pub(crate) const MAX_BIRTH_YEAR: u32 = 2026;
/// Cue window before a candidate, in bytes.
const BEFORE: usize = 48;

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// The full birth date `(year, month, day)` of a 13-digit RRN/FRN, if the date and the
/// gender/century digit are possible.
pub(crate) fn birth_date(d: &[u8; 13]) -> Option<(u32, u32, u32)> {
    let yy = u32::from(d[0]) * 10 + u32::from(d[1]);
    let mm = u32::from(d[2]) * 10 + u32::from(d[3]);
    let dd = u32::from(d[4]) * 10 + u32::from(d[5]);
    let century = match d[6] {
        9 | 0 => 1800,
        1 | 2 | 5 | 6 => 1900,
        _ => 2000,
    };
    let year = century + yy;
    if year > MAX_BIRTH_YEAR || dd == 0 || dd > days_in_month(year, mm) {
        return None;
    }
    Some((year, mm, dd))
}

/// Whether the number can be one issued after 2020-10 (no check digit): born since then.
fn post_2020(date: (u32, u32, u32)) -> bool {
    date.0 > 2020 || (date.0 == 2020 && date.1 >= 10)
}

/// Corporate-kind digits (5th-6th) of the commonest registered kinds (주식회사 11, 합명 12,
/// 합자 13, 유한 14, 외국회사/유한책임 15-16, 사단 21, 재단 22, …): required when no cue is near.
fn common_corp_kind(d: &[u8; 13]) -> bool {
    matches!(d[4] * 10 + d[5], 11..=16 | 21 | 22 | 71 | 81..=86)
}

/// 13-digit candidates: `YYMMDD-GNNNNNC` (hyphen, space or none).
pub(crate) fn detect(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    let d: [u8; 13] = c.fixed()?;
    let lens = c.lens();
    let grouped = lens == [6, 7] && c.seps_in(&[Sep::Hyphen, Sep::Space]);
    if !(grouped || lens == [13]) {
        return None;
    }
    let cues = ctx.cues;
    // Cues count before the number only: after it they usually introduce the next item.
    let near = |k: Cue| cues.nearest_before(k, c.start, BEFORE).is_some();
    let negative = cues
        .nearest_before(Cue::NEGATIVE, c.start, BEFORE)
        .is_some();
    let crn_cue = near(Cue::CRN);
    if crn_cue && crn_check(&d) {
        return Some(Hit::new(c.start, c.end, Label::KrCrn, 0.95));
    }
    let person_cue = near(Cue::RRN.or(Cue::FRN));
    // Plain 13 digits also are barcodes (EAN-13; Korea's prefix is 880) and order numbers.
    if !grouped && !person_cue && (negative || (ean13_check(&d) && d[..3] == [8, 8, 0])) {
        return None;
    }
    // Right after a bank / insurance word the number is an account (`우리은행 1002137090523`).
    let account_cue = cues
        .nearest_before_free(Cue::BANK.or(Cue::HEALTH), c.start, 6)
        .is_some();
    if account_cue && !person_cue {
        return None;
    }
    // Plain 13 digits from 17000000000000 to 17999999999999 are millisecond timestamps
    // (2023-11 to 2027-01) far more often than unseparated RRNs of people born in '17.
    if !grouped && !person_cue && d[0] == 1 && d[1] == 7 {
        return None;
    }
    if let Some(date) = birth_date(&d) {
        let foreign = matches!(d[6], 5..=8);
        let label = if foreign { Label::KrFrn } else { Label::KrRrn };
        let checked = if foreign {
            frn_check(&d) || rrn_check(&d)
        } else {
            rrn_check(&d)
        };
        let conf = if checked {
            Some(if grouped { 0.99 } else { 0.95 })
        } else if matches!(d[6], 9 | 0) {
            None // 1800s births: only the legacy scheme exists
        } else if post_2020(date) {
            Some(if person_cue { 0.9 } else { 0.8 })
        } else if person_cue {
            Some(0.6)
        } else {
            None
        };
        if let Some(conf) = conf {
            if !(negative && !person_cue && !grouped) {
                return Some(Hit::new(c.start, c.end, label, conf));
            }
        }
    }
    // Without a cue, a number that reads as a birth date with a modern gender digit is a
    // mistyped RRN rather than a CRN.
    let reads_as_rrn = birth_date(&d).is_some() && !matches!(d[6], 9 | 0);
    if grouped && crn_check(&d) && !negative && common_corp_kind(&d) && !reads_as_rrn {
        return Some(Hit::new(c.start, c.end, Label::KrCrn, 0.85));
    }
    None
}

/// 10-digit business registration numbers: `NNN-NN-NNNNN` with a valid check digit, or plain
/// digits next to a business-number cue.
pub(crate) fn detect_brn(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    let d: [u8; 10] = c.fixed()?;
    if d[0] == 0 || !brn_check(&d) {
        return None;
    }
    let lens = c.lens();
    let grouped = lens == [3, 2, 5] && c.all_seps(Sep::Hyphen);
    let cue = ctx.cues.nearest_before(Cue::BRN, c.start, BEFORE).is_some();
    if grouped {
        Some(Hit::new(
            c.start,
            c.end,
            Label::KrBrn,
            if cue { 0.99 } else { 0.9 },
        ))
    } else if cue && (lens == [10] || (lens == [3, 2, 5] && c.uniform())) {
        Some(Hit::new(c.start, c.end, Label::KrBrn, 0.85))
    } else {
        None
    }
}
