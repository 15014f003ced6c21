//! `KR_DRIVER_LICENSE`: `RR-YY-NNNNNN-CD` where `RR` is a region code (11-26, 28) or, on
//! licences issued before 2014-05, the region's name (`서울 12-345678-90`).

use crate::cue::{Cue, LICENSE_REGIONS};
use crate::detect::numeric::{Cand, Sep};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;
use crate::text::char_before;

fn region_code_ok(code: u8) -> bool {
    (11..=26).contains(&code) || code == 28
}

/// Detects a licence number candidate.
pub(crate) fn detect(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    let lens = c.lens();
    let d = c.digits;
    if d.len() != 12 && d.len() != 10 {
        return None;
    }
    let cue = ctx.cues.nearest_before(Cue::LICENSE, c.start, 48).is_some();
    let seps_ok = c.seps_in(&[Sep::Hyphen, Sep::Space]);
    if d.len() == 12 && seps_ok && (lens == [2, 2, 6, 2] || (lens == [12] && cue)) {
        let code = d[0] * 10 + d[1];
        if region_code_ok(code) {
            let conf = if cue { 0.95 } else { 0.85 };
            return Some(Hit::new(c.start, c.end, Label::KrDriverLicense, conf));
        }
    }
    // Region-name form: "서울 12-345678-90" / "서울12-345678-90".
    if d.len() == 10 && seps_ok && (lens == [2, 6, 2] || lens == [10]) {
        let mut s = c.start;
        if let Some((p, ' ')) = char_before(ctx.text, s) {
            s = p;
        }
        let region = ctx
            .cues
            .hits
            .iter()
            .rev()
            .skip_while(|h| h.end > s)
            .take(1)
            .find(|h| h.end == s && h.cue.any(Cue::REGION));
        if let Some(h) = region {
            let name = ctx.text.get(h.start..h.end).unwrap_or("");
            if LICENSE_REGIONS.iter().any(|(r, _)| *r == name) {
                return Some(Hit::new(h.start, c.end, Label::KrDriverLicense, 0.9));
            }
        }
    }
    None
}
