//! `KR_ADDRESS`: road-name addresses (도로명주소): 시/도, 1-2 시/군/구 (none for 세종),
//! optional 읍/면, a road (`…로`, `…길`, `…로12번길`), the building number (`123`, `45-6`),
//! then an optional unit (`101동 1203호`, `3층`) and reference in parentheses (`(역삼동)`).

use crate::cue::Cue;
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;
use crate::text::{char_at, char_before, is_hangul};

/// Longest an address may be, in bytes.
const MAX_LEN: usize = 240;

fn skip_spaces(text: &str, mut i: usize, commas: bool) -> usize {
    while let Some(c) = char_at(text, i) {
        if c == ' ' || (commas && c == ',') {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// The token at `i`: up to a space, comma, parenthesis or line break.
fn token(text: &str, i: usize) -> &str {
    let rest = text.get(i..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '.' | '·'))
        .unwrap_or(rest.len());
    &rest[..end]
}

fn all_hangul(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_hangul)
}

fn is_district(t: &str) -> bool {
    all_hangul(t) && t.chars().count() >= 2 && t.ends_with(['시', '군', '구'])
}

fn is_town(t: &str) -> bool {
    all_hangul(t) && t.chars().count() >= 2 && t.ends_with(['읍', '면'])
}

/// Length in bytes of a building number at the start of `s` (`12`, `12-3`), if any.
fn number_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 || i > 5 {
        return None;
    }
    if b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    Some(i)
}

/// Splits a road token into its road part and a glued building number (`테헤란로123`).
/// Returns (road length, number length).
fn road(t: &str) -> Option<(usize, usize)> {
    let mut best = None;
    for (i, c) in t.char_indices() {
        if c == '로' || c == '길' {
            let end = i + c.len_utf8();
            let road = &t[..end];
            if road.chars().count() >= 2 && road.chars().next().is_some_and(is_hangul) {
                let rest = &t[end..];
                if rest.is_empty() {
                    best = Some((end, 0));
                } else if let Some(n) = number_len(rest) {
                    // "테헤란로123", "해운대로273입니다": a particle may follow the number;
                    // "중앙로12번길", "올림픽로35가길" are longer road names.
                    let after = &rest[n..];
                    let side_street = after.starts_with(['번', '가', '길']);
                    if !side_street && !after.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                        return Some((end, n));
                    }
                }
            }
        }
    }
    best
}

/// Length of a unit at the start of token `t`: `101동`, `1203호`, `3층`, `지하1층`, `B1층`
/// (a particle may follow: `1203호로`).
fn unit_len(t: &str) -> Option<usize> {
    let body = t
        .strip_prefix("지하")
        .or_else(|| t.strip_prefix('B'))
        .unwrap_or(t);
    let pre = t.len() - body.len();
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &body[digits..];
    let ok = digits > 0 && rest.starts_with(['동', '호', '층']);
    ok.then_some(pre + digits + '동'.len_utf8())
}

/// Parses an address starting with the region cue at `start..after_region`.
fn parse(text: &str, start: usize, after_region: usize, sejong: bool) -> Option<usize> {
    let mut i = skip_spaces(text, after_region, false);
    let mut districts = 0;
    while districts < 2 && is_district(token(text, i)) {
        i = skip_spaces(text, i + token(text, i).len(), false);
        districts += 1;
    }
    if districts == 0 && !sejong {
        return None;
    }
    if is_town(token(text, i)) {
        i = skip_spaces(text, i + token(text, i).len(), false);
    }
    let t = token(text, i);
    let (road_len, glued_num) = road(t)?;
    let mut end = i + road_len;
    if glued_num > 0 {
        end += glued_num;
    } else {
        let mut j = skip_spaces(text, end, false);
        // "중앙로 12번길 34": a spaced side-street number.
        let t2 = token(text, j);
        if t2.ends_with("번길") || t2.ends_with("가길") {
            j = skip_spaces(text, j + t2.len(), false);
        }
        let n = number_len(text.get(j..)?)?;
        let tail = text.get(j + n..)?;
        if tail
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return None;
        }
        end = j + n;
    }
    // Unit: ", 101동 1203호", " 3층"
    for _ in 0..3 {
        let j = skip_spaces(text, end, true);
        match unit_len(token(text, j)) {
            Some(n) => end = j + n,
            None => break,
        }
    }
    // Reference in parentheses: "(역삼동)", "(역삼동, 래미안아파트)".
    let j = skip_spaces(text, end, false);
    if text.get(j..).is_some_and(|r| r.starts_with('(')) {
        let mut lim = (j + 64).min(text.len());
        while !text.is_char_boundary(lim) {
            lim -= 1;
        }
        let rest = text.get(j..lim)?;
        if let Some(close) = rest.find(')') {
            let inner = &rest[1..close];
            if !inner.contains('\n') && inner.chars().next().is_some_and(is_hangul) {
                end = j + close + 1;
            }
        }
    }
    (end - start <= MAX_LEN).then_some(end)
}

/// Finds addresses at each region cue.
pub(crate) fn detect(ctx: &Ctx<'_>, out: &mut Vec<Hit>) {
    for h in &ctx.cues.hits {
        if !h.cue.any(Cue::REGION) {
            continue;
        }
        if char_before(ctx.text, h.start).is_some_and(|(_, c)| is_hangul(c)) {
            continue;
        }
        let next = char_at(ctx.text, h.end);
        if next.is_some_and(|c| c != ' ') {
            continue;
        }
        let sejong = ctx
            .text
            .get(h.start..h.end)
            .is_some_and(|r| r.starts_with("세종"));
        if let Some(end) = parse(ctx.text, h.start, h.end, sejong) {
            out.push(Hit::new(h.start, end, Label::KrAddress, 0.9));
        }
    }
}
