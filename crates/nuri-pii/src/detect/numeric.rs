//! Digit runs: `010-1234-5678`, `900101 1234568`, `(02) 123-4567`, `+82 10…`, `４１１１…`.
//!
//! [`scan_run`] reads one run of digit groups joined by single separators, then tries the
//! numeric detectors on sub-runs split only at spaces (so `나이 32 010 1234 5678` still finds
//! the phone), longest first.

use crate::detect::{account, card, ip, license, national, phone, Ctx};
use crate::span::Hit;
use crate::text::{digit_at, is_word_byte};

/// The separator before a digit group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    /// First group of the run.
    Start,
    /// `-` (also `‐`, `–`, `－`).
    Hyphen,
    /// `.`
    Dot,
    /// One space.
    Space,
    /// `)` optionally followed by a space or hyphen, after a `(`-opened first group.
    Paren,
}

/// One group of digits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub start: usize,
    pub end: usize,
    /// Index of the group's first digit in the run's digit buffer.
    pub d0: usize,
    pub len: usize,
    pub sep: Sep,
}

/// A candidate: consecutive groups of a run.
pub(crate) struct Cand<'r> {
    pub start: usize,
    pub end: usize,
    pub digits: &'r [u8],
    pub groups: &'r [Group],
    /// The run began with `+` directly before this candidate's first digit.
    pub plus: bool,
    lens: [usize; MAX_GROUPS],
}

impl Cand<'_> {
    /// Group lengths, e.g. `[3, 4, 4]`.
    pub fn lens(&self) -> &[usize] {
        &self.lens[..self.groups.len()]
    }

    /// Whether every separator after the first group is `sep`.
    pub fn all_seps(&self, sep: Sep) -> bool {
        self.groups.iter().skip(1).all(|g| g.sep == sep)
    }

    /// Whether every separator after the first group is one of `seps`.
    pub fn seps_in(&self, seps: &[Sep]) -> bool {
        self.groups.iter().skip(1).all(|g| seps.contains(&g.sep))
    }

    /// Whether all separators are the same (or there is one group).
    pub fn uniform(&self) -> bool {
        match self.groups.get(1) {
            None => true,
            Some(g) => self.all_seps(g.sep),
        }
    }

    /// Digits as a fixed array, if there are exactly `N`.
    pub fn fixed<const N: usize>(&self) -> Option<[u8; N]> {
        self.digits.try_into().ok()
    }
}

const MAX_GROUPS: usize = 12;
const MAX_DIGITS: usize = 64;

/// Separator at `i` followed by a digit: returns the separator and the digit's offset.
fn sep_at(bytes: &[u8], i: usize, in_paren: bool) -> Option<(Sep, usize)> {
    let b = *bytes.get(i)?;
    let (sep, len) = match b {
        b'-' => (Sep::Hyphen, 1),
        b'.' => (Sep::Dot, 1),
        b' ' => (Sep::Space, 1),
        b')' if in_paren => {
            let extra = usize::from(matches!(bytes.get(i + 1), Some(b' ' | b'-')));
            (Sep::Paren, 1 + extra)
        }
        // ‐ (U+2010), – (U+2013), － (U+FF0D)
        0xE2 if bytes.get(i + 1) == Some(&0x80)
            && matches!(bytes.get(i + 2), Some(0x90 | 0x93)) =>
        {
            (Sep::Hyphen, 3)
        }
        0xEF if bytes.get(i + 1) == Some(&0xBC) && bytes.get(i + 2) == Some(&0x8D) => {
            (Sep::Hyphen, 3)
        }
        _ => return None,
    };
    digit_at(bytes, i + len).map(|_| (sep, i + len))
}

/// Whether a run may start at `i`: not glued to a word (`v1`, `ORD-12`, `a.1`, `@18`, `#12`).
pub(crate) fn may_start(bytes: &[u8], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let p = bytes[i - 1];
    if is_word_byte(p) || matches!(p, b'@' | b'#' | b'$' | b'\\' | b'/' | b'=' | b'&' | b'%') {
        return false;
    }
    if matches!(p, b'.' | b'-' | b':') && i >= 2 && is_word_byte(bytes[i - 2]) {
        return false;
    }
    true
}

/// Scans the run whose first byte is at `i` (a digit, `+` or `(`), pushing hits.
/// Returns the offset to continue from.
pub(crate) fn scan_run(ctx: &Ctx<'_>, i: usize, hits: &mut Vec<Hit>) -> usize {
    let bytes = ctx.bytes;
    let mut pos = i;
    let plus = bytes[i] == b'+';
    let paren = bytes[i] == b'(';
    if plus || paren {
        pos += 1;
    }
    let mut digits: Vec<u8> = Vec::with_capacity(MAX_DIGITS);
    let mut groups: Vec<Group> = Vec::with_capacity(MAX_GROUPS);
    let mut sep = Sep::Start;
    let mut overlong = false;
    loop {
        let gstart = pos;
        let d0 = digits.len();
        while let Some((d, len)) = digit_at(bytes, pos) {
            if digits.len() < MAX_DIGITS {
                digits.push(d);
            } else {
                overlong = true;
            }
            pos += len;
        }
        groups.push(Group {
            start: gstart,
            end: pos,
            d0,
            len: digits.len() - d0,
            sep,
        });
        if groups.len() >= MAX_GROUPS || overlong {
            overlong |= sep_at(bytes, pos, false).is_some();
            break;
        }
        match sep_at(bytes, pos, paren && groups.len() == 1) {
            Some((s, next)) => {
                sep = s;
                pos = next;
            }
            None => break,
        }
    }
    let end = pos;
    // Glued to a following word (`1a2b`, `10x`, `123@`): an identifier or hash, not PII.
    let next = bytes.get(end).copied();
    if next.is_some_and(|b| is_word_byte(b) || b == b'@') || overlong {
        // Only the last space-separated part is glued to the word (`… 2025-05-21T12:00`);
        // what comes before it is still scanned.
        if let Some(k) = groups.iter().rposition(|g| g.sep == Sep::Space) {
            classify(ctx, &digits, &groups[..k], plus || paren, hits);
        }
        let mut e = end;
        while e < bytes.len() && (is_word_byte(bytes[e]) || matches!(bytes[e], b'.' | b'-')) {
            e += 1;
        }
        return e.max(i + 1);
    }
    // A dotted run followed by `.` and more (`1.2.3.4.5`, `3.14.`) is handled as a whole.
    classify(ctx, &digits, &groups, plus || paren, hits);
    end.max(i + 1)
}

/// Tries the detectors on space-split sub-runs, longest first from the left.
fn classify(ctx: &Ctx<'_>, digits: &[u8], groups: &[Group], lead: bool, hits: &mut Vec<Hit>) {
    let plus = lead && ctx.bytes.get(groups[0].start.wrapping_sub(1)) == Some(&b'+');
    // Split points: indices of groups that start after a space.
    let mut a = 0;
    while a < groups.len() {
        if a > 0 && groups[a].sep != Sep::Space {
            a += 1;
            continue;
        }
        let mut found = None;
        let mut b = groups.len();
        while b > a {
            if b == groups.len() || groups[b].sep == Sep::Space {
                let g = &groups[a..b];
                let d_end = g.last().map_or(0, |x| x.d0 + x.len);
                let mut lens = [0usize; MAX_GROUPS];
                for (l, x) in lens.iter_mut().zip(g) {
                    *l = x.len;
                }
                let cand = Cand {
                    start: g[0].start,
                    end: g[g.len() - 1].end,
                    digits: &digits[g[0].d0..d_end],
                    groups: g,
                    plus: plus && a == 0,
                    lens,
                };
                if let Some(h) = detect(ctx, &cand) {
                    found = Some((h, b));
                    break;
                }
            }
            b -= 1;
        }
        match found {
            Some((mut h, b)) => {
                // The `+` of `+82…` and the `(` of `(02) 123-4567` belong to the phone; the `(`
                // of `(010-1234-5678)` does not.
                let paren_area = groups.get(1).is_some_and(|g| g.sep == Sep::Paren);
                if lead && a == 0 && h.label == crate::Label::Phone && (plus || paren_area) {
                    h.start = h.start.saturating_sub(1);
                }
                hits.push(h);
                a = b;
            }
            None => a += 1,
        }
    }
}

/// The numeric detectors in priority order.
fn detect(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    if c.plus {
        return phone::detect(ctx, c);
    }
    ip::detect_v4(ctx, c)
        .or_else(|| national::detect(ctx, c))
        .or_else(|| card::detect(ctx, c))
        .or_else(|| national::detect_brn(ctx, c))
        .or_else(|| license::detect(ctx, c))
        .or_else(|| {
            account::strong_context(ctx, c)
                .then(|| account::detect(ctx, c))
                .flatten()
        })
        .or_else(|| phone::detect(ctx, c))
        .or_else(|| account::detect(ctx, c))
}
