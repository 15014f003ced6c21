//! Context words ("cues") found in one Aho-Corasick pass: bank names, "주민등록번호", "passport",
//! honorifics, region names, order/version words… Detectors ask [`Cues`] whether a cue of some
//! kind lies within a few bytes of a candidate instead of running one regex per label.

use std::cell::Cell;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::text::is_word_byte;

/// A set of cue kinds, as bit flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cue(u32);

impl Cue {
    pub const BANK: Cue = Cue(1);
    pub const HEALTH: Cue = Cue(1 << 1);
    pub const RRN: Cue = Cue(1 << 2);
    pub const FRN: Cue = Cue(1 << 3);
    pub const BRN: Cue = Cue(1 << 4);
    pub const CRN: Cue = Cue(1 << 5);
    pub const PASSPORT: Cue = Cue(1 << 6);
    pub const LICENSE: Cue = Cue(1 << 7);
    pub const CARD: Cue = Cue(1 << 8);
    pub const PHONE: Cue = Cue(1 << 9);
    /// Order, tracking, invoice, barcode, ISBN… numbers: not personal.
    pub const NEGATIVE: Cue = Cue(1 << 10);
    /// Version / build words: what follows is a version string.
    pub const VERSION: Cue = Cue(1 << 11);
    /// Korean honorific or title that follows a name (님, 씨, 과장…).
    pub const HONORIFIC: Cue = Cue(1 << 12);
    /// Korean or English "name:" style word that precedes a name.
    pub const NAME_LABEL: Cue = Cue(1 << 13);
    /// English title that precedes a name (Mr., Dr.…).
    pub const TITLE_EN: Cue = Cue(1 << 14);
    /// A province or metropolitan city (시/도): the start of an address.
    pub const REGION: Cue = Cue(1 << 15);

    /// Union of two sets.
    pub const fn or(self, other: Cue) -> Cue {
        Cue(self.0 | other.0)
    }

    /// Whether the sets share a kind.
    pub const fn any(self, other: Cue) -> bool {
        self.0 & other.0 != 0
    }
}

/// One cue occurrence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CueHit {
    pub start: usize,
    pub end: usize,
    pub cue: Cue,
}

/// Driver-licence region codes by region name (도로교통공단 numbering, see docs/pii.md).
pub(crate) const LICENSE_REGIONS: [(&str, u8); 17] = [
    ("서울", 11),
    ("부산", 12),
    ("경기", 13),
    ("강원", 14),
    ("충북", 15),
    ("충남", 16),
    ("전북", 17),
    ("전남", 18),
    ("경북", 19),
    ("경남", 20),
    ("제주", 21),
    ("대구", 22),
    ("인천", 23),
    ("광주", 24),
    ("대전", 25),
    ("울산", 26),
    ("경기북부", 28),
];

const BANK: &[&str] = &[
    "은행",
    "계좌",
    "계좌번호",
    "입금",
    "송금",
    "이체",
    "예금주",
    "국민은행",
    "KB국민",
    "신한",
    "신한은행",
    "농협은행",
    "우리은행",
    "하나은행",
    "농협",
    "NH농협",
    "기업은행",
    "IBK",
    "카카오뱅크",
    "카뱅",
    "케이뱅크",
    "토스뱅크",
    "새마을금고",
    "신협",
    "우체국",
    "SC제일",
    "씨티은행",
    "수협",
    "대구은행",
    "부산은행",
    "경남은행",
    "광주은행",
    "전북은행",
    "제주은행",
    "산업은행",
    "iM뱅크",
    "bank",
    "account number",
    "account no",
    "acct",
    "bank account",
    "wire to",
    "deposit to",
];
const HEALTH: &[&str] = &[
    "건강보험",
    "건강보험증",
    "건보",
    "보험증",
    "의료보험",
    "건강보험번호",
    "health insurance",
    "NHIS",
    "insurance no",
    "insurance number",
];
const RRN: &[&str] = &[
    "주민등록번호",
    "주민번호",
    "주민등록",
    "주민",
    "RRN",
    "resident registration",
    "resident number",
];
const FRN: &[&str] = &[
    "외국인등록번호",
    "외국인등록",
    "외국인번호",
    "외국인",
    "alien registration",
    "ARC",
    "foreigner registration",
    "residence card",
];
const BRN: &[&str] = &[
    "사업자등록번호",
    "사업자번호",
    "사업자",
    "business registration",
    "business number",
    "BRN",
    "tax id",
];
const CRN: &[&str] = &[
    "법인등록번호",
    "법인번호",
    "법인",
    "corporate registration",
    "company registration",
    "CRN",
];
const PASSPORT: &[&str] = &["여권", "여권번호", "passport", "passport no"];
const LICENSE: &[&str] = &[
    "운전면허",
    "운전면허번호",
    "면허",
    "면허번호",
    "면허증",
    "driver's license",
    "drivers license",
    "driver license",
    "driving licence",
    "driving license",
    "licence no",
    "license no",
];
const CARD: &[&str] = &[
    "카드",
    "카드번호",
    "신용카드",
    "체크카드",
    "card",
    "credit card",
    "visa",
    "mastercard",
    "amex",
];
const PHONE: &[&str] = &[
    "전화",
    "전화번호",
    "제 번호",
    "내 번호",
    "폰번호",
    "연락처",
    "휴대폰",
    "핸드폰",
    "휴대전화",
    "tel",
    "phone",
    "mobile",
    "call",
    "cell",
    "whatsapp",
    "contact",
];
const NEGATIVE: &[&str] = &[
    "주문번호",
    "주문",
    "송장",
    "운송장",
    "송장번호",
    "영수증",
    "승인번호",
    "거래번호",
    "예약번호",
    "접수번호",
    "티켓",
    "사건번호",
    "품번",
    "모델",
    "시리얼",
    "일련번호",
    "바코드",
    "상품코드",
    "order",
    "order no",
    "invoice",
    "tracking",
    "receipt",
    "reference",
    "ref",
    "ticket",
    "serial",
    "SKU",
    "model",
    "ISBN",
    "EAN",
    "UPC",
    "barcode",
    "transaction",
    "txn",
    "batch",
    "lot",
];
const VERSION: &[&str] = &[
    "version",
    "버전",
    "ver",
    "build",
    "release",
    "릴리스",
    "릴리즈",
];
const HONORIFIC: &[&str] = &[
    "님",
    "씨",
    "고객님",
    "선생님",
    "선생",
    "대표님",
    "대표",
    "대표이사",
    "사장님",
    "사장",
    "과장님",
    "과장",
    "부장님",
    "부장",
    "차장님",
    "차장",
    "팀장님",
    "팀장",
    "실장님",
    "실장",
    "대리님",
    "대리",
    "주임님",
    "주임",
    "이사님",
    "교수님",
    "교수",
    "박사님",
    "박사",
    "원장님",
    "원장",
    "기자",
    "변호사",
    "회장님",
    "회장",
    "상무님",
    "상무",
    "전무님",
    "전무",
    "본부장님",
    "본부장",
    "매니저님",
    "매니저",
    "작가님",
    "감독님",
    "선배님",
    "후배님",
    "환자분",
    "고객",
];
const NAME_LABEL: &[&str] = &[
    "이름",
    "성명",
    "성함",
    "고객명",
    "담당자",
    "수령인",
    "받는분",
    "받는 분",
    "보호자",
    "작성자",
    "신청인",
    "환자명",
    "name:",
    "name :",
    "name is",
    "full name",
    "my name's",
    "contact person",
    "attn",
    "dear",
    "signed",
    "regards,",
];
const TITLE_EN: &[&str] = &[
    "Mr.", "Mr", "Mrs.", "Mrs", "Ms.", "Ms", "Miss", "Dr.", "Dr", "Prof.", "Prof", "Mx.",
];
const REGION: &[&str] = &[
    "서울특별시",
    "서울시",
    "서울",
    "부산광역시",
    "부산시",
    "부산",
    "대구광역시",
    "대구시",
    "대구",
    "인천광역시",
    "인천시",
    "인천",
    "광주광역시",
    "광주시",
    "광주",
    "대전광역시",
    "대전시",
    "대전",
    "울산광역시",
    "울산시",
    "울산",
    "세종특별자치시",
    "세종시",
    "세종",
    "경기도",
    "경기",
    "강원특별자치도",
    "강원도",
    "강원",
    "충청북도",
    "충북",
    "충청남도",
    "충남",
    "전북특별자치도",
    "전라북도",
    "전북",
    "전라남도",
    "전남",
    "경상북도",
    "경북",
    "경상남도",
    "경남",
    "제주특별자치도",
    "제주도",
    "제주",
    "경기북부",
];

/// All cue patterns with their kinds, in automaton pattern-id order.
pub(crate) fn patterns() -> Vec<(&'static str, Cue)> {
    let groups: [(&[&str], Cue); 16] = [
        (BANK, Cue::BANK),
        (HEALTH, Cue::HEALTH),
        (RRN, Cue::RRN),
        (FRN, Cue::FRN),
        (BRN, Cue::BRN),
        (CRN, Cue::CRN),
        (PASSPORT, Cue::PASSPORT),
        (LICENSE, Cue::LICENSE),
        (CARD, Cue::CARD),
        (PHONE, Cue::PHONE),
        (NEGATIVE, Cue::NEGATIVE),
        (VERSION, Cue::VERSION),
        (HONORIFIC, Cue::HONORIFIC),
        (NAME_LABEL, Cue::NAME_LABEL),
        (TITLE_EN, Cue::TITLE_EN),
        (REGION, Cue::REGION),
    ];
    let mut out: Vec<(&'static str, Cue)> = Vec::new();
    for (words, cue) in groups {
        for &w in words {
            // One word may belong to several kinds ("경기" is a region and a licence region).
            if let Some(slot) = out.iter_mut().find(|(p, _)| p.eq_ignore_ascii_case(w)) {
                slot.1 = slot.1.or(cue);
            } else {
                out.push((w, cue));
            }
        }
    }
    out
}

/// The compiled cue automaton (built once per [`crate::Scanner`]).
#[derive(Debug, Clone)]
pub(crate) struct CueMatcher {
    ac: AhoCorasick,
    kinds: Vec<(&'static str, Cue)>,
}

impl CueMatcher {
    /// Builds the automaton; `None` only if aho-corasick refuses the (static) pattern set.
    pub(crate) fn new() -> Option<CueMatcher> {
        let kinds = patterns();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(kinds.iter().map(|(p, _)| p))
            .ok()?;
        Some(CueMatcher { ac, kinds })
    }

    /// Finds every cue in `text`. ASCII cues must stand as whole words.
    pub(crate) fn find<'t>(&self, text: &'t str) -> Cues<'t> {
        let bytes = text.as_bytes();
        let mut hits = Vec::new();
        for m in self.ac.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            let pat = bytes[s..e].as_ref();
            let first_ascii = pat.first().is_some_and(|b| b.is_ascii_alphanumeric());
            let last_ascii = pat.last().is_some_and(|b| b.is_ascii_alphanumeric());
            if first_ascii && s > 0 && is_word_byte(bytes[s - 1]) {
                continue;
            }
            if last_ascii && bytes.get(e).is_some_and(|&b| is_word_byte(b)) {
                continue;
            }
            let id = m.pattern().as_usize();
            let cue = self.kinds.get(id).map_or(Cue(0), |k| k.1);
            hits.push(CueHit {
                start: s,
                end: e,
                cue,
            });
        }
        Cues {
            hits,
            bytes,
            window: Cell::new((usize::MAX, 0, 0)),
            after: Cell::new((usize::MAX, 0)),
        }
    }
}

/// The cues of one text, sorted by position.
#[derive(Debug, Default)]
pub(crate) struct Cues<'t> {
    pub hits: Vec<CueHit>,
    bytes: &'t [u8],
    /// Detectors ask many questions about the same candidate: the kinds present in the
    /// window before the last asked-about position, `(position, first hit index, kinds)`.
    window: Cell<(usize, usize, u32)>,
    /// The same for [`Cues::first_after`]: `(position, first hit index at or after it)`.
    after: Cell<(usize, usize)>,
}

/// How far back [`Cues::nearest_before`] may ever look, in bytes.
const MAX_BEFORE: usize = 64;

/// Whether `gap` (the text between a cue and a candidate) ties them together: no digit (the
/// cue belongs to the first number after it), no line break and no sentence end (`.`, `!`,
/// `?` then a space), except, after a cue, the `.` of an abbreviation (`Tel.`, `No.`), and a
/// single line break right after a label (`계좌번호:⏎123…`).
fn same_clause(gap: &[u8], cue_first: bool) -> bool {
    // "계좌번호:⏎123-…": a label ending its line still labels a number that starts the next.
    let mut gap = gap;
    if cue_first {
        if let Some(nl) = gap.iter().position(|&b| b == b'\n') {
            let tail = &gap[nl + 1..];
            if tail
                .iter()
                .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b':' | b'-'))
            {
                gap = &gap[..nl];
            }
        }
    }
    for (i, &b) in gap.iter().enumerate() {
        match b {
            b'\n' | b'0'..=b'9' => return false,
            b'.' | b'!' | b'?' => {
                let next_space = gap.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
                let abbrev = cue_first
                    && (i == 0
                        || (b == b'.' && i >= 2 && gap[i - 2..i].eq_ignore_ascii_case(b"no")));
                if next_space && !abbrev {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

impl Cues<'_> {
    /// Whether a cue of a kind in `kind` ends at most `before` bytes before `start` or begins at
    /// most `after` bytes after `end`.
    pub(crate) fn near(
        &self,
        kind: Cue,
        start: usize,
        end: usize,
        before: usize,
        after: usize,
    ) -> bool {
        self.nearest_before(kind, start, before).is_some()
            || self.first_after(kind, end, after).is_some()
    }

    /// The closest cue of `kind` ending within `before` bytes before `start`.
    pub(crate) fn nearest_before(&self, kind: Cue, start: usize, before: usize) -> Option<&CueHit> {
        let before = before.min(MAX_BEFORE);
        // Hits are sorted by start; one may start up to 64 bytes (its length) before its end.
        let (pos, first, kinds) = self.window.get();
        let (first, kinds) = if pos == start {
            (first, kinds)
        } else {
            let lo = start.saturating_sub(MAX_BEFORE + 64);
            let first = self.hits.partition_point(|h| h.start < lo);
            let k = self.hits[first..]
                .iter()
                .take_while(|h| h.start < start)
                .fold(0, |a, h| a | h.cue.0);
            self.window.set((start, first, k));
            (first, k)
        };
        if kinds & kind.0 == 0 {
            return None;
        }
        self.hits[first..]
            .iter()
            .take_while(|h| h.start < start)
            .filter(|h| h.cue.any(kind) && h.end <= start && start - h.end <= before)
            .last()
            .filter(|h| {
                self.bytes
                    .get(h.end..start)
                    .is_some_and(|g| same_clause(g, true))
            })
    }

    /// The first cue of `kind` starting within `after` bytes after `end`.
    pub(crate) fn first_after(&self, kind: Cue, end: usize, after: usize) -> Option<&CueHit> {
        let (pos, cached) = self.after.get();
        let first = if pos == end {
            cached
        } else {
            let f = self.hits.partition_point(|h| h.start < end);
            self.after.set((end, f));
            f
        };
        self.hits[first..]
            .iter()
            .take_while(|h| h.start <= end + after)
            .find(|h| h.cue.any(kind))
            .filter(|h| {
                self.bytes
                    .get(end..h.start)
                    .is_some_and(|g| same_clause(g, false))
            })
    }

    /// Like [`Cues::nearest_before`], but ignores a cue that already belongs to the number
    /// before it: it follows a number and a `)` closes it before the candidate
    /// (`110-123-456789 (신한은행)  500305-…`).
    pub(crate) fn nearest_before_free(
        &self,
        kind: Cue,
        start: usize,
        before: usize,
    ) -> Option<&CueHit> {
        self.nearest_before(kind, start, before).filter(|h| {
            // Walk back over spaces, `(` and Hangul (`… 123 (신한 은행)`, `… 123 예금주`).
            let mut i = h.start;
            while i > 0 && h.start - i < 16 && matches!(self.bytes[i - 1], b' ' | b'(' | 0x80..) {
                i -= 1;
            }
            let after_number = i > 0 && i < h.start && self.bytes[i - 1].is_ascii_digit();
            // …and is closed before the candidate: "(신한은행)  500305-…".
            let closed = self
                .bytes
                .get(h.end..start)
                .is_some_and(|g| g.contains(&b')'));
            !(after_number && closed)
        })
    }

    /// Byte distance from the closest cue of `kind` before `start` (within `before`).
    pub(crate) fn distance_before(&self, kind: Cue, start: usize, before: usize) -> Option<usize> {
        self.nearest_before_free(kind, start, before)
            .map(|h| start - h.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cues_with_word_boundaries() {
        let m = CueMatcher::new();
        assert!(m.is_some());
        let Some(m) = m else { return };
        let text = "Tel: 010, prefer 주민등록번호 서울특별시";
        let c = m.find(text);
        let kinds: Vec<_> = c.hits.iter().map(|h| &text[h.start..h.end]).collect();
        assert_eq!(kinds, vec!["Tel", "주민등록번호", "서울특별시"]);
        assert!(c.near(Cue::RRN, 40, 41, 10, 0) || c.near(Cue::RRN, 38, 39, 10, 0));
    }
}
