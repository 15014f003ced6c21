//! Valid identifiers for every label, in the many spellings people type, and the hard
//! negatives that look like them. Check digits come from `nuri_pii::checks`; formats and
//! spellings are written from the rules in docs/pii.md, not from the detectors' code.

use nuri_pii::checks;

use crate::rng::Rng;

/// Digits (values 0-9) as ASCII text.
pub fn ascii(d: &[u8]) -> String {
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

/// Joins digit groups with `sep`.
pub fn grouped(d: &[u8], lens: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    for (k, &l) in lens.iter().enumerate() {
        if k > 0 {
            out.push_str(sep);
        }
        out.push_str(&ascii(&d[i..(i + l).min(d.len())]));
        i += l;
    }
    out
}

/// Replaces ASCII digits by full-width ones (`０`-`９`).
pub fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0xFF10 + (c as u32 - '0' as u32)).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fn fix_last(d: &mut [u8], ok: impl Fn(&[u8]) -> bool) {
    let n = d.len() - 1;
    for c in 0..10 {
        d[n] = c;
        if ok(d) {
            return;
        }
    }
}

fn arr13(d: &[u8]) -> [u8; 13] {
    let mut a = [0u8; 13];
    a.copy_from_slice(&d[..13]);
    a
}

fn birth(r: &mut Rng, from: u32, to: u32) -> (u32, u32, u32) {
    let y = r.range(from, to);
    let m = r.range(1, 12);
    let dmax = match m {
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (y, m, r.range(1, dmax))
}

fn date_digits(y: u32, m: u32, d: u32) -> Vec<u8> {
    let s = format!("{:02}{:02}{:02}", y % 100, m, d);
    s.bytes().map(|b| b - b'0').collect()
}

/// A resident registration number's 13 digits (legacy with check digit, or post-2020).
pub fn rrn_digits(r: &mut Rng) -> Vec<u8> {
    if r.chance(0.15) {
        let (y, m, d) = if r.chance(0.5) {
            (2020, r.range(10, 12), r.range(1, 28))
        } else {
            birth(r, 2021, 2025)
        };
        let mut v = date_digits(y, m, d);
        v.push(if r.chance(0.5) { 3 } else { 4 });
        v.extend(r.digits(6));
        return v;
    }
    let (y, m, d) = birth(r, 1930, 2019);
    let mut v = date_digits(y, m, d);
    let g = if y >= 2000 { 3 } else { 1 } + r.below(2) as u8;
    v.push(g);
    v.extend(r.digits(6));
    fix_last(&mut v, |x| checks::rrn_check(&arr13(x)));
    v
}

/// A foreigner registration number's 13 digits (legacy check digit).
pub fn frn_digits(r: &mut Rng) -> Vec<u8> {
    let (y, m, d) = birth(r, 1950, 2015);
    let mut v = date_digits(y, m, d);
    v.push(if y >= 2000 { 7 } else { 5 } + r.below(2) as u8);
    v.extend(r.digits(6));
    fix_last(&mut v, |x| checks::frn_check(&arr13(x)));
    v
}

/// A business registration number's 10 digits.
pub fn brn_digits(r: &mut Rng) -> Vec<u8> {
    let mut v = vec![r.range(1, 9) as u8];
    v.extend(r.digits(9));
    fix_last(&mut v, |x| {
        let mut a = [0u8; 10];
        a.copy_from_slice(x);
        checks::brn_check(&a)
    });
    v
}

/// A corporate registration number's 13 digits.
pub fn crn_digits(r: &mut Rng) -> Vec<u8> {
    let office = *r.pick(&[
        "1101", "1301", "1201", "1311", "1346", "1601", "1801", "2001",
    ]);
    let kind = *r.pick(&["11", "11", "11", "14", "21", "22"]);
    let mut v: Vec<u8> = format!("{office}{kind}")
        .bytes()
        .map(|b| b - b'0')
        .collect();
    v.extend(r.digits(7));
    fix_last(&mut v, |x| checks::crn_check(&arr13(x)));
    v
}

/// A card number's digits, Luhn-valid, from a real issuer range.
pub fn card_digits(r: &mut Rng) -> Vec<u8> {
    let (prefix, len): (String, usize) = match r.below(8) {
        0 | 1 => ("4".into(), 16),
        2 => (format!("{}", r.range(51, 55)), 16),
        3 => (format!("{}", r.range(2221, 2720)), 16),
        4 => (if r.chance(0.5) { "34" } else { "37" }.into(), 15),
        5 => (format!("{}", r.range(3528, 3589)), 16),
        6 => (format!("94{}", r.range(10, 99)), 16),
        _ => ("62".into(), 16),
    };
    let mut v: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    v.extend(r.digits(len - v.len()));
    fix_last(&mut v, checks::luhn);
    v
}

/// A card number as typed.
pub fn card(r: &mut Rng) -> String {
    let d = card_digits(r);
    let sep = *r.pick(&["-", " ", "-", ""]);
    if d.len() == 15 {
        grouped(&d, &[4, 6, 5], sep)
    } else {
        grouped(&d, &[4, 4, 4, 4], sep)
    }
}

/// A Korean or international phone number as typed.
pub fn phone(r: &mut Rng) -> String {
    let sep = *r.pick(&["-", "-", "-", " ", ".", ""]);
    match r.below(10) {
        0..=4 => {
            let p = *r.pick(&["010", "010", "010", "011", "016", "017", "019"]);
            let mid = if p == "010" || r.chance(0.5) { 4 } else { 3 };
            let m = ascii(&r.digits(mid));
            let l = ascii(&r.digits(4));
            let m = match m.strip_prefix('0') {
                Some(rest) => format!("2{rest}"),
                None => m,
            };
            format!("{p}{sep}{m}{sep}{l}")
        }
        5 | 6 => {
            let area = *r.pick(&["02", "031", "032", "051", "053", "062", "064", "070", "042"]);
            let mid = if area == "070" { 4 } else { 3 + r.below(2) };
            let m = format!("{}{}", r.range(2, 9), ascii(&r.digits(mid - 1)));
            let l = ascii(&r.digits(4));
            if r.chance(0.2) && sep == "-" {
                format!("({area}) {m}-{l}")
            } else {
                format!("{area}{sep}{m}{sep}{l}")
            }
        }
        7 | 8 => {
            let m = format!("{}{}", r.range(2, 9), ascii(&r.digits(3)));
            let l = ascii(&r.digits(4));
            match r.below(3) {
                0 => format!("+82 10 {m} {l}"),
                1 => format!("+82-10-{m}-{l}"),
                _ => format!("+8210{m}{l}"),
            }
        }
        _ => match r.below(3) {
            0 => format!("+1 {} 555 {}", r.range(201, 989), ascii(&r.digits(4))),
            1 => format!("+44 20 {} {}", r.range(7000, 8999), ascii(&r.digits(4))),
            _ => format!("+81-3-{}-{}", r.range(1000, 9999), ascii(&r.digits(4))),
        },
    }
}

const LOCAL: &[&str] = &[
    "hong",
    "gildong",
    "minsu.kim",
    "jy_park",
    "lee.seoyeon",
    "choi99",
    "jane.doe",
    "john",
    "sales-team",
    "kwon+news",
    "h.jung",
    "dev.ops",
    "s.han",
    "tom_lee",
    "yuna",
    "a1b2",
];
const DOMAINS: &[&str] = &[
    "naver.com",
    "gmail.com",
    "daum.net",
    "kakao.com",
    "hanmail.net",
    "example.com",
    "company.co.kr",
    "snu.ac.kr",
    "mail.example.org",
    "outlook.com",
    "korea.kr",
    "startup.io",
];

/// An e-mail address.
pub fn email(r: &mut Rng) -> String {
    let mut local = (*r.pick(LOCAL)).to_owned();
    if r.chance(0.4) {
        local.push_str(&format!("{}", r.range(1, 2025)));
    }
    let domain = *r.pick(DOMAINS);
    if r.chance(0.1) {
        local = local.to_uppercase();
    }
    format!("{local}@{domain}")
}

/// A public IPv4 or IPv6 address.
pub fn ip(r: &mut Rng) -> String {
    if r.chance(0.75) {
        loop {
            let a = r.range(1, 223);
            if matches!(a, 10 | 100 | 127 | 169 | 172 | 192 | 198 | 203) {
                continue;
            }
            return format!(
                "{a}.{}.{}.{}",
                r.range(0, 255),
                r.range(0, 255),
                r.range(1, 254)
            );
        }
    }
    let p = *r.pick(&[
        "2001:4860",
        "2400:cb00",
        "2607:f8b0",
        "2a00:1450",
        "2404:6800",
    ]);
    format!(
        "{p}:{:x}:{:x}::{:x}",
        r.range(1, 0xffff),
        r.range(1, 0xffff),
        r.range(1, 0xffff)
    )
}

/// A passport number with the preferred cue-less or cue-requiring shape.
pub fn passport(r: &mut Rng) -> String {
    let l = *r.pick(&["M", "M", "M", "S", "R", "G", "D"]);
    if r.chance(0.5) {
        format!(
            "{l}{}{}{}",
            ascii(&r.digits(3)),
            char::from(b'A' + r.below(26) as u8),
            ascii(&r.digits(4))
        )
    } else {
        format!("{l}{}", ascii(&r.digits(8)))
    }
}

const LICENSE_REGIONS: &[(&str, u32)] = &[
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
];

/// A driver licence number (numeric region code, or region name on old licences).
pub fn license(r: &mut Rng) -> String {
    let (name, code) = *r.pick(LICENSE_REGIONS);
    let code = if r.chance(0.1) { 28 } else { code };
    let yy = r.range(0, 99);
    let serial = ascii(&r.digits(6));
    let tail = ascii(&r.digits(2));
    if r.chance(0.25) {
        format!("{name} {yy:02}-{serial}-{tail}")
    } else {
        format!("{code}-{yy:02}-{serial}-{tail}")
    }
}

/// A bank and an account number in that bank's usual layout.
pub fn bank_account(r: &mut Rng) -> (&'static str, String) {
    let sep = if r.chance(0.8) { "-" } else { "" };
    match r.below(6) {
        0 => ("국민은행", grouped(&r.digits(14), &[6, 2, 6], sep)),
        1 => (
            "신한은행",
            format!("110{sep}{}", grouped(&r.digits(9), &[3, 6], sep)),
        ),
        2 => (
            "우리은행",
            format!("1002{sep}{}", grouped(&r.digits(9), &[3, 6], sep)),
        ),
        3 => (
            "카카오뱅크",
            format!("3333{sep}{}", grouped(&r.digits(9), &[2, 7], sep)),
        ),
        4 => ("농협", grouped(&r.digits(13), &[3, 4, 4, 2], sep)),
        _ => ("하나은행", grouped(&r.digits(14), &[3, 6, 5], sep)),
    }
}

/// A health-insurance card number (11 digits, sometimes split 1-10).
pub fn health(r: &mut Rng) -> String {
    let d = r.digits(11);
    if r.chance(0.4) {
        grouped(&d, &[1, 10], "-")
    } else {
        ascii(&d)
    }
}

const SURNAMES: &[&str] = &[
    "김", "김", "김", "이", "이", "박", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오",
    "서", "신", "권", "황", "안", "송", "류", "전", "홍", "고", "문", "양", "손", "배", "백", "허",
    "남궁", "제갈",
];
const GIVEN: &[&str] = &[
    "민", "서", "지", "현", "준", "우", "윤", "하", "은", "수", "영", "진", "호", "연", "예", "도",
    "시", "아", "태", "성", "유", "주", "혜", "경", "재", "승", "동", "훈", "빈", "희",
];

/// A Korean full name (surname + 2-syllable given name, sometimes 1).
pub fn korean_name(r: &mut Rng) -> String {
    let s = *r.pick(SURNAMES);
    let g1 = *r.pick(GIVEN);
    let g2 = *r.pick(GIVEN);
    if r.chance(0.08) && s.chars().count() == 1 {
        format!("{s}{g1}")
    } else {
        format!("{s}{g1}{g2}")
    }
}

const FIRST: &[&str] = &[
    "John", "Jane", "Michael", "Sarah", "David", "Emily", "James", "Olivia", "Daniel", "Grace",
    "Minho", "Jiwoo", "Robert", "Linda", "Kevin", "Anna",
];
const LAST: &[&str] = &[
    "Smith", "Johnson", "Brown", "Kim", "Lee", "Park", "Garcia", "Miller", "Davis", "Wilson",
    "O'Brien", "Taylor", "Anderson", "Choi",
];

/// An English name: first, first last, or last.
pub fn english_name(r: &mut Rng) -> (String, String, String) {
    let f = (*r.pick(FIRST)).to_owned();
    let l = (*r.pick(LAST)).to_owned();
    (format!("{f} {l}"), f, l)
}

/// (region as written, districts, roads) for addresses.
const ADDR: &[(&[&str], &[&str], &[&str])] = &[
    (
        &["서울특별시", "서울시", "서울"],
        &["강남구", "마포구", "종로구", "송파구", "영등포구"],
        &[
            "테헤란로",
            "세종대로",
            "월드컵북로12길",
            "올림픽로35가길",
            "도산대로",
            "양화로",
        ],
    ),
    (
        &["경기도", "경기"],
        &[
            "성남시 분당구",
            "수원시 영통구",
            "고양시 일산동구",
            "용인시 수지구",
            "화성시",
        ],
        &["판교역로", "광교중앙로", "중앙로", "동탄대로", "정자일로"],
    ),
    (
        &["부산광역시", "부산"],
        &["해운대구", "부산진구", "수영구"],
        &["센텀중앙로", "해운대로", "광안해변로", "중앙대로"],
    ),
    (
        &["세종특별자치시"],
        &[""],
        &["한누리대로", "도움6로", "갈매로"],
    ),
    (
        &["인천광역시", "인천"],
        &["연수구", "남동구"],
        &["송도과학로", "인하로", "컨벤시아대로"],
    ),
    (
        &["제주특별자치도", "제주도"],
        &["제주시", "서귀포시"],
        &["첨단로", "중앙로", "연삼로"],
    ),
];

/// A road-name address with an optional unit.
pub fn address(r: &mut Rng) -> String {
    let (regions, districts, roads) = *r.pick(ADDR);
    let region = *r.pick(regions);
    let district = *r.pick(districts);
    let road = *r.pick(roads);
    let mut num = format!("{}", r.range(1, 399));
    if r.chance(0.2) {
        num.push_str(&format!("-{}", r.range(1, 30)));
    }
    let mut s = String::from(region);
    if !district.is_empty() {
        s.push(' ');
        s.push_str(district);
    }
    s.push(' ');
    s.push_str(road);
    if !r.chance(0.15) {
        s.push(' ');
    }
    s.push_str(&num);
    match r.below(4) {
        0 => s.push_str(&format!(
            ", {}동 {}호",
            r.range(101, 120),
            r.range(101, 2504)
        )),
        1 => s.push_str(&format!(" {}층", r.range(1, 30))),
        2 => s.push_str(&format!(
            " ({})",
            r.pick(&["역삼동", "서교동", "우동", "삼평동", "보람동"])
        )),
        _ => {}
    }
    s
}

// ---- hard negatives -------------------------------------------------------------------

/// A hard negative: text that looks like PII and is not.
pub fn hard_negative(r: &mut Rng) -> (&'static str, String) {
    match r.below(17) {
        0 => (
            "order",
            format!(
                "2024{:02}{:02}{}",
                r.range(1, 12),
                r.range(1, 28),
                ascii(&r.digits(8))
            ),
        ),
        1 => ("order", format!("ORD-2024-{}", ascii(&r.digits(6)))),
        2 => (
            "date",
            format!(
                "{}-{:02}-{:02}",
                r.range(1990, 2030),
                r.range(1, 12),
                r.range(1, 28)
            ),
        ),
        3 => (
            "timestamp",
            format!(
                "2025-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                r.range(1, 12),
                r.range(1, 28),
                r.range(0, 23),
                r.range(0, 59),
                r.range(0, 59)
            ),
        ),
        4 => ("timestamp", format!("17{}", ascii(&r.digits(11)))),
        5 => (
            "version",
            format!(
                "{}@{}.{}.{}",
                r.pick(&["react", "lodash", "vite", "next"]),
                r.range(1, 20),
                r.range(0, 20),
                r.range(0, 20)
            ),
        ),
        6 => (
            "version",
            format!("v{}.{}.{}", r.range(0, 9), r.range(0, 30), r.range(0, 30)),
        ),
        7 => (
            "git",
            format!(
                "git@github.com:{}/{}.git",
                r.pick(&["org", "nuri", "acme"]),
                r.pick(&["repo", "gateway", "web"])
            ),
        ),
        8 => {
            let mut d: Vec<u8> = vec![9, 7, 8, 8, 9];
            d.extend(r.digits(8));
            let mut a = [0u8; 13];
            a.copy_from_slice(&d);
            for c in 0..10 {
                a[12] = c;
                if checks::ean13_check(&a) {
                    break;
                }
            }
            (
                "isbn",
                format!("ISBN {}", grouped(&a, &[3, 2, 4, 3, 1], "-")),
            )
        }
        9 => {
            let mut a = [0u8; 13];
            a[..3].copy_from_slice(&[8, 8, 0]);
            a[3..12].copy_from_slice(&r.digits(9));
            for c in 0..10 {
                a[12] = c;
                if checks::ean13_check(&a) {
                    break;
                }
            }
            ("barcode", ascii(&a))
        }
        10 => {
            // RRN look-alike with a wrong check digit, born before 2020.
            let mut v = rrn_digits(r);
            while v[6] >= 3 {
                v = rrn_digits(r);
            }
            v[12] = (v[12] + 1 + r.below(9) as u8) % 10;
            ("bad-rrn", grouped(&v, &[6, 7], "-"))
        }
        11 => {
            let mut v = card_digits(r);
            let n = v.len() - 1;
            v[n] = (v[n] + 1 + r.below(9) as u8) % 10;
            (
                "bad-card",
                if n == 14 {
                    grouped(&v, &[4, 6, 5], "-")
                } else {
                    grouped(&v, &[4, 4, 4, 4], "-")
                },
            )
        }
        12 => {
            let mut v = brn_digits(r);
            v[9] = (v[9] + 1 + r.below(9) as u8) % 10;
            ("bad-brn", grouped(&v, &[3, 2, 5], "-"))
        }
        13 => (
            "math",
            format!(
                "{} * {} = {}",
                r.range(100, 999),
                r.range(100, 999),
                r.range(10000, 999999)
            ),
        ),
        14 => {
            let p = *r.pick(&[
                "1588", "1544", "1566", "1600", "1644", "1661", "1800", "1899",
            ]);
            ("hotline", format!("{p}-{}", ascii(&r.digits(4))))
        }
        15 => {
            let ip = match r.below(4) {
                0 => format!("192.168.{}.{}", r.range(0, 255), r.range(1, 254)),
                1 => format!(
                    "10.{}.{}.{}",
                    r.range(0, 255),
                    r.range(0, 255),
                    r.range(1, 254)
                ),
                2 => "127.0.0.1".to_owned(),
                _ => format!(
                    "172.{}.{}.{}",
                    r.range(16, 31),
                    r.range(0, 255),
                    r.range(1, 254)
                ),
            };
            ("private-ip", ip)
        }
        _ => (
            "honorific",
            (*r.pick(&["어머님", "선생님", "하느님", "고객님", "사장님"])).to_owned(),
        ),
    }
}
