//! `PERSON`: names, only where the context says a name is there:
//! - Korean: surname + 1-2 syllable given name before an honorific or title
//!   (`홍길동님`, `김민수 과장`, `이서연 고객님께`), or after a name label (`이름: 홍길동`,
//!   `성함은 박지훈입니다`);
//! - English: capitalised words after a title (`Mr.`, `Dr.`) or a phrase (`my name is`,
//!   `Name:`, `Dear`).

use crate::cue::{Cue, CueHit};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;
use crate::text::{char_at, char_before, hangul_run_end, hangul_run_start, is_hangul, nchars};

/// Common Korean surnames (통계청 2015 census, the ~100 most frequent).
const SURNAMES: &str = "김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진\
나지엄채원천방공현함변염여추도소석선설마길연위표명기반라왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감";
/// Two-syllable surnames.
const COMPOUND: &[&str] = &[
    "남궁", "제갈", "선우", "황보", "독고", "사공", "서문", "동방",
];

/// Words that precede 님/씨/titles but are not names.
const NOT_NAMES: &[&str] = &[
    "어머",
    "아버",
    "할머",
    "할아버",
    "사모",
    "하느",
    "부처",
    "선배",
    "후배",
    "주인",
    "임금",
    "공주",
    "왕자",
    "목사",
    "신부",
    "기사",
    "사장",
    "부장",
    "원장",
    "선생",
    "고객",
    "감독",
    "박사",
    "이사",
    "여러분",
    "부모",
    "이분",
    "판매자",
    "구매자",
    "사용자",
    "반장",
    "소장",
    "국장",
    "도지사",
    "장관",
    "변호사",
    "기자",
    "남편",
    "가족",
    "조카",
    "이모",
    "고모",
    "사위",
    "손자",
    "손녀",
    "제자",
    "은사",
    "구독자",
    "독자",
    "모두",
    "우리",
    "제가",
    "진짜",
    "정말",
    "조금",
    "오늘",
    "지금",
    "이제",
    "여기",
    "이거",
    "모든",
    "각자",
    "전부",
    "안녕",
    "감사",
    "수고",
    "고생",
    "성함",
    "담당",
    "담당자",
    "신청자",
    "회원",
    "방문",
    "문의",
    "연락",
    "이름",
    "고객센터",
    "관리",
    "사원",
    "대리",
    "과장",
    "차장",
    "팀장",
    "실장",
    "주임",
    "상무",
    "전무",
    "회장",
    "교수",
    "작가",
    "매니저",
    "본부장",
    "대표",
    "환자",
    "보호자",
    "손님",
    "형님",
    "누님",
    "따님",
    "아드님",
    "동생",
    "언니",
    "오빠",
    "배포",
    "배송",
    "배달",
    "주문",
    "문자",
    "결제",
    "정산",
    "승인",
    "고지",
    "조회",
    "주소",
    "전화",
    "문자",
    "이상",
    "정도",
    "사항",
    "안내",
    "오후",
    "오전",
    "어제",
    "내일",
    "아침",
    "저녁",
    "지난",
    "이번",
    "다음",
    "저희",
    "누나",
    "아저",
    "아가",
    "마음",
    "솜",
    "말",
    "날",
    "글",
    "불",
    "맘",
    "홀",
    "꽃",
    "씨앗",
];

/// Final syllables that mark a grammatical ending rather than a name.
const BAD_LAST: &str = "에을를의로면며다요게된들께과와적했할함됨및등것던는만";

/// Syllables that may follow a name + title without making a new word (particles, 님).
const AFTER_TITLE: &str = "가는의에께도를와과랑한이을은로만요님";

/// Endings that may follow a name after a name label (`홍길동입니다`, `홍길동이고`).
const AFTER_LABEL: &[&str] = &[
    "입니다",
    "이에요",
    "예요",
    "이고",
    "이며",
    "이다",
    "님",
    "씨",
    "이",
    "가",
    "은",
    "는",
    "을",
    "를",
    "의",
    "과",
    "와",
    "으로",
    "로",
    "에게",
    "한테",
    "께",
    "라고",
    "이라고",
    "이라",
    "라",
    "입",
];

fn is_surname(name: &str) -> usize {
    if COMPOUND.iter().any(|c| name.starts_with(c)) {
        return 2;
    }
    match name.chars().next() {
        Some(c) if SURNAMES.contains(c) => 1,
        _ => 0,
    }
}

/// Whether `name` (Hangul only) looks like surname + given name of 1-2 syllables.
fn korean_name(name: &str, allow_two: bool) -> bool {
    let n = nchars(name);
    let sur = is_surname(name);
    if sur == 0 || NOT_NAMES.contains(&name) {
        return false;
    }
    let given = n.saturating_sub(sur);
    let last = name.chars().next_back().unwrap_or(' ');
    if BAD_LAST.contains(last) {
        return false;
    }
    match given {
        2 => true,
        1 => allow_two || sur == 2,
        _ => false,
    }
}

/// Korean names before honorific/title cues.
fn before_honorific(ctx: &Ctx<'_>, h: &CueHit, out: &mut Vec<Hit>) {
    let text = ctx.text;
    let cue_text = text.get(h.start..h.end).unwrap_or("");
    // The cue must end a word: next char is not Hangul, or a particle / 님.
    if let Some(c) = char_at(text, h.end) {
        if is_hangul(c) && !AFTER_TITLE.contains(c) {
            return;
        }
    }
    let mut end = h.start;
    let mut glued = true;
    if let Some((p, ' ')) = char_before(text, end) {
        end = p;
        glued = false;
    }
    let start = hangul_run_start(text, end);
    if start == end {
        return;
    }
    let name = text.get(start..end).unwrap_or("");
    let short_honorific = cue_text == "님" || cue_text == "씨";
    // Two-syllable names (`박희`) only right before 님/씨, or before a `…님` title.
    let allow_two = (glued && short_honorific) || (!short_honorific && cue_text.ends_with('님'));
    if korean_name(name, allow_two) {
        let conf = if nchars(name) >= 3 { 0.85 } else { 0.7 };
        out.push(Hit::new(start, end, Label::Person, conf));
    }
}

/// Skips spaces and `:`-like punctuation (and a topic particle) after a name label.
fn skip_label_tail(text: &str, mut i: usize) -> usize {
    for _ in 0..6 {
        match char_at(text, i) {
            Some(c @ (' ' | ':' | '：' | '-' | '=' | '\t')) => i += c.len_utf8(),
            Some(c @ ('은' | '는' | '이')) if char_at(text, i + c.len_utf8()) == Some(' ') => {
                i += c.len_utf8()
            }
            _ => break,
        }
    }
    i
}

/// Korean or English names after a name label (`이름:`, `Name:`, `my name is`).
fn after_label(ctx: &Ctx<'_>, h: &CueHit, out: &mut Vec<Hit>) {
    let text = ctx.text;
    let i = skip_label_tail(text, h.end);
    if i == h.end && !text.get(h.start..h.end).unwrap_or("").ends_with(':') {
        // "이름" glued to more Hangul (이름표, 성명서) is another word.
        if char_at(text, i).is_some_and(is_hangul) {
            return;
        }
    }
    match char_at(text, i) {
        Some(c) if is_hangul(c) => {
            let run_end = hangul_run_end(text, i);
            let run = text.get(i..run_end).unwrap_or("");
            let n = nchars(run);
            if (2..=4).contains(&n) && korean_name(run, true) {
                out.push(Hit::new(i, run_end, Label::Person, 0.9));
                return;
            }
            // Name followed by an ending: try 3 then 2 (or 4 for compound surnames) syllables.
            for k in [4usize, 3, 2] {
                let Some((cut, _)) = run.char_indices().nth(k) else {
                    continue;
                };
                let (name, rest) = run.split_at(cut);
                if AFTER_LABEL.iter().any(|e| rest.starts_with(e))
                    && (k < 4 || is_surname(name) == 2)
                    && korean_name(name, true)
                {
                    out.push(Hit::new(i, i + cut, Label::Person, 0.85));
                    return;
                }
            }
        }
        Some(c) if c.is_ascii_uppercase() => {
            if let Some(e) = english_name(ctx.bytes, i, 2) {
                out.push(Hit::new(i, e, Label::Person, 0.85));
            }
        }
        _ => {}
    }
}

const EN_STOP: &[&str] = &[
    "The", "This", "That", "It", "Is", "And", "Or", "Of", "In", "On", "At", "To", "My", "Your",
    "Not", "No", "Yes", "Hi", "Hello", "Thanks", "Sir", "Madam", "All", "Team", "Customer", "User",
    "Admin", "Unknown", "None", "Null", "Please", "Hey", "Dear",
];

/// End of 1..=`max` capitalised words starting at `i` (`Jane`, `Jane Doe`, `O'Brien`).
fn english_name(bytes: &[u8], mut i: usize, max: usize) -> Option<usize> {
    let mut end = None;
    for w in 0..max {
        if !bytes.get(i).is_some_and(u8::is_ascii_uppercase) {
            break;
        }
        let s = i;
        i += 1;
        while i < bytes.len()
            && (bytes[i].is_ascii_lowercase()
                || (matches!(bytes[i], b'\'' | b'-')
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic)))
        {
            // O'Brien, Mary-Jane: the letter after the mark may be a capital.
            i += if matches!(bytes[i], b'\'' | b'-') {
                2
            } else {
                1
            };
        }
        let word = std::str::from_utf8(&bytes[s..i]).unwrap_or("");
        if i - s < 2
            || EN_STOP.contains(&word)
            || bytes.get(i).is_some_and(u8::is_ascii_alphanumeric)
        {
            break;
        }
        end = Some(i);
        if w + 1 < max && bytes.get(i) == Some(&b' ') {
            i += 1;
        } else {
            break;
        }
    }
    end
}

/// English names after a title (`Mr. Smith`, `Dr Jane Doe`).
fn after_title(ctx: &Ctx<'_>, h: &CueHit, out: &mut Vec<Hit>) {
    let b = ctx.bytes;
    if !b.get(h.start).is_some_and(u8::is_ascii_uppercase) {
        return;
    }
    let mut i = h.end;
    if b.get(i) == Some(&b'.') {
        i += 1;
    }
    if b.get(i) != Some(&b' ') {
        return;
    }
    if let Some(e) = english_name(b, i + 1, 2) {
        out.push(Hit::new(i + 1, e, Label::Person, 0.85));
    } else if char_at(ctx.text, i + 1).is_some_and(is_hangul) {
        // "Mr. 김철수"
        let e = hangul_run_end(ctx.text, i + 1);
        if korean_name(ctx.text.get(i + 1..e).unwrap_or(""), true) {
            out.push(Hit::new(i + 1, e, Label::Person, 0.8));
        }
    }
}

/// Runs every PERSON rule over the text's cues.
pub(crate) fn detect(ctx: &Ctx<'_>, out: &mut Vec<Hit>) {
    for h in &ctx.cues.hits {
        if h.cue.any(Cue::HONORIFIC) {
            before_honorific(ctx, h, out);
        }
        if h.cue.any(Cue::NAME_LABEL) {
            after_label(ctx, h, out);
        }
        if h.cue.any(Cue::TITLE_EN) {
            after_title(ctx, h, out);
        }
    }
}
