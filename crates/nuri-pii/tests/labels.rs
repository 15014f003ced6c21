//! Per-label positives and negatives, including every example named in issue 7.

use nuri_pii::{Label, Scanner};
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(Scanner::new)
}

fn found(text: &str) -> Vec<(Label, String)> {
    scanner()
        .scan(text)
        .iter()
        .map(|s| (s.label, s.text(text).to_owned()))
        .collect()
}

#[track_caller]
fn has(text: &str, label: Label, value: &str) {
    let f = found(text);
    assert!(
        f.iter().any(|(l, v)| *l == label && v == value),
        "expected {label} {value:?} in {text:?}, found {f:?}"
    );
}

#[track_caller]
fn none(text: &str) {
    let f = found(text);
    assert!(f.is_empty(), "expected nothing in {text:?}, found {f:?}");
}

#[track_caller]
fn not_label(text: &str, label: Label) {
    let f = found(text);
    assert!(
        f.iter().all(|(l, _)| *l != label),
        "unexpected {label} in {text:?}: {f:?}"
    );
}

#[test]
fn rrn_valid_check_digit() {
    has(
        "주민번호 800101-1234560 입니다",
        Label::KrRrn,
        "800101-1234560",
    );
    has("800101-1234560", Label::KrRrn, "800101-1234560");
    has("rrn: 8001011234560", Label::KrRrn, "8001011234560");
    // full-width digits
    has(
        "８００１０１-１２３４５６０",
        Label::KrRrn,
        "８００１０１-１２３４５６０",
    );
}

#[test]
fn rrn_post_2020_has_no_check_digit() {
    // Born 2021-03-15, gender digit 3 (2000s male): valid without a check digit.
    has(
        "아이 주민번호 210315-3123456",
        Label::KrRrn,
        "210315-3123456",
    );
    has("210315-4987654", Label::KrRrn, "210315-4987654");
}

#[test]
fn rrn_1800s_needs_its_check_digit() {
    // Gender digit 9 = man born 1899: only the legacy scheme exists, so the check must hold.
    has("990101-9123456", Label::KrRrn, "990101-9123456");
    none("990101-9123457");
}

#[test]
fn rrn_negatives() {
    // Invalid check digit, born before 2020-10, no cue.
    none("800101-1234567");
    // Impossible dates and gender digits.
    none("801301-1234560");
    none("800231-2234561");
    // Born in the future
    none("990101-3123456");
}

#[test]
fn frn() {
    // FRN legacy check (+2 variant) and the RRN variant both accepted.
    has(
        "외국인등록번호 800101-5234563",
        Label::KrFrn,
        "800101-5234563",
    );
    has(
        "외국인등록번호: 800101-5234561",
        Label::KrFrn,
        "800101-5234561",
    );
    not_label("800101-5234560", Label::KrRrn);
}

#[test]
fn brn() {
    has("사업자등록번호 116-82-00276", Label::KrBrn, "116-82-00276");
    has("116-82-00276", Label::KrBrn, "116-82-00276");
    has("사업자번호: 1168200276", Label::KrBrn, "1168200276");
    none("116-82-00277");
    none("1168200276");
}

#[test]
fn crn_is_separate_and_not_personal() {
    let t = "법인등록번호 110111-0012346";
    let f = found(t);
    assert_eq!(
        f,
        vec![(Label::KrCrn, "110111-0012346".to_owned())],
        "{f:?}"
    );
    assert!(!Label::KrCrn.is_personal());
    none("법인등록번호 110111-0012340");
}

#[test]
fn passport() {
    has("여권번호 M12345678", Label::KrPassport, "M12345678");
    has("passport: S87654321", Label::KrPassport, "S87654321");
    has("새 여권 M123A4567 받았어요", Label::KrPassport, "M123A4567");
    has("G123B4567", Label::KrPassport, "G123B4567");
    none("S12345678");
    none("주문번호 M12345678");
    none("X12345678");
}

#[test]
fn driver_license() {
    has(
        "면허번호 11-23-123456-00",
        Label::KrDriverLicense,
        "11-23-123456-00",
    );
    has("28-05-654321-12", Label::KrDriverLicense, "28-05-654321-12");
    has(
        "운전면허 서울 12-345678-90",
        Label::KrDriverLicense,
        "서울 12-345678-90",
    );
    none("27-05-654321-12");
    none("99-05-654321-12");
}

#[test]
fn phones_korean_all_spellings() {
    for p in [
        "010-1234-5678",
        "010.1234.5678",
        "010 1234 5678",
        "01012345678",
        "011-234-5678",
        "016-2345-6789",
        "019 123 4567",
        "02-123-4567",
        "02-1234-5678",
        "(02) 123-4567",
        "031-123-4567",
        "064-712-3456",
        "070-1234-5678",
        "+82 10 1234 5678",
        "+82-10-1234-5678",
        "+821012345678",
        "+82-2-123-4567",
        "+82 010-1234-5678",
    ] {
        has(&format!("연락처 {p} 입니다"), Label::Phone, p);
        has(&format!("{p}로 전화"), Label::Phone, p);
    }
    has("Tel.010-1234-5678", Label::Phone, "010-1234-5678");
    has("나이 32 010 1234 5678", Label::Phone, "010 1234 5678");
}

#[test]
fn phones_international() {
    has(
        "call me at +1 415 555 2671",
        Label::Phone,
        "+1 415 555 2671",
    );
    has("+44 20 7946 0958", Label::Phone, "+44 20 7946 0958");
    has("+81-3-1234-5678", Label::Phone, "+81-3-1234-5678");
}

#[test]
fn business_hotlines_are_not_personal() {
    for p in [
        "1588-1234",
        "1544-0000",
        "1600-1234",
        "1899-1234",
        "080-123-4567",
        "15881234",
    ] {
        none(&format!("고객센터 {p}로 전화주세요"));
    }
}

#[test]
fn email_and_korean_particles() {
    for particle in [
        "으로", "로", "님", "에게", "이", "가", "을", "를", "은", "는", "의", "와", "과", "도",
        "한테", "께",
    ] {
        let t = format!("hong@example.com{particle} 연락");
        has(&t, Label::Email, "hong@example.com");
    }
    has(
        "mail: kim.1990+tag@mail.co.kr.",
        Label::Email,
        "kim.1990+tag@mail.co.kr",
    );
    has("<1004@naver.com>", Label::Email, "1004@naver.com");
    has(
        "mailto:jane_doe@sub.example.org",
        Label::Email,
        "jane_doe@sub.example.org",
    );
}

#[test]
fn email_negatives() {
    none("git clone git@github.com:org/repo.git");
    none("npm i react@18.2.0 and lodash@4.17.21");
    none("icon@2x.png");
    none("@scope/package and user@localhost");
    none("v1.2.3 and 1.2.3");
}

#[test]
fn cards() {
    has(
        "카드번호 4111-1111-1111-1111",
        Label::Card,
        "4111-1111-1111-1111",
    );
    has(
        "card 5500 0000 0000 0004",
        Label::Card,
        "5500 0000 0000 0004",
    );
    has("2221000000000009", Label::Card, "2221000000000009");
    has("amex 3782 822463 10005", Label::Card, "3782 822463 10005");
    has("9410-0000-0000-0005", Label::Card, "9410-0000-0000-0005");
    none("4111-1111-1111-1112");
    none("2720990000000000");
    none("1234-5678-9012-3456");
    none("주문번호 4111111111111111");
}

#[test]
fn bank_and_health_need_context() {
    has(
        "국민은행 123456-01-123456 으로 입금",
        Label::BankAccount,
        "123456-01-123456",
    );
    has(
        "계좌번호: 110-123-456789",
        Label::BankAccount,
        "110-123-456789",
    );
    has(
        "카카오뱅크 3333-01-1234567",
        Label::BankAccount,
        "3333-01-1234567",
    );
    has(
        "건강보험증 번호 1234567890",
        Label::KrHealthInsurance,
        "1234567890",
    );
    none("번호 123456-01-123456");
    none("110-123-456789");
}

#[test]
fn ips_public_only() {
    has("접속 IP 8.8.8.8 확인", Label::Ip, "8.8.8.8");
    has("from 211.234.10.5:443", Label::Ip, "211.234.10.5");
    has(
        "2607:f8b0:4005:80a::200e",
        Label::Ip,
        "2607:f8b0:4005:80a::200e",
    );
    has(
        "[2001:4860:4860::8888]:53",
        Label::Ip,
        "2001:4860:4860::8888",
    );
    for p in [
        "10.0.0.1",
        "192.168.0.1",
        "172.16.5.4",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "192.0.2.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "0.0.0.0",
        "255.255.255.255",
    ] {
        none(&format!("host {p} ok"));
    }
    none("version 1.2.3.4");
    none("1.2.3.4.5");
    none("std::vec::Vec and 12:30:45 and 00:1A:2B:3C:4D:5E");
}

#[test]
fn addresses() {
    has(
        "주소는 서울특별시 강남구 테헤란로 123, 101동 1203호 입니다",
        Label::KrAddress,
        "서울특별시 강남구 테헤란로 123, 101동 1203호",
    );
    has(
        "경기도 성남시 분당구 판교역로 235",
        Label::KrAddress,
        "경기도 성남시 분당구 판교역로 235",
    );
    has(
        "부산 해운대구 센텀중앙로 79 (우동)",
        Label::KrAddress,
        "부산 해운대구 센텀중앙로 79 (우동)",
    );
    has(
        "세종특별자치시 한누리대로 2130",
        Label::KrAddress,
        "세종특별자치시 한누리대로 2130",
    );
    has(
        "서울시 마포구 월드컵북로12길 34-5 3층",
        Label::KrAddress,
        "서울시 마포구 월드컵북로12길 34-5 3층",
    );
    none("서울에 가고 싶어요");
    none("서울 강남구에 살아요");
}

#[test]
fn korean_names_in_context() {
    has("홍길동님 안녕하세요", Label::Person, "홍길동");
    has("김민수 과장님께 전달해 주세요", Label::Person, "김민수");
    has("이서연 고객님의 주문", Label::Person, "이서연");
    has("담당: 박지훈 대리", Label::Person, "박지훈");
    has("이름: 최유진", Label::Person, "최유진");
    has("제 이름은 정하은입니다", Label::Person, "정하은");
    has("남궁민수 씨에게", Label::Person, "남궁민수");
    has("민준님", Label::Person, "민준");
    none("어머님 안녕하세요");
    none("하느님 감사합니다");
    none("선생님께 여쭤보세요");
    none("대표적인 사례");
    none("오늘 날씨가 좋네요 아저씨");
}

#[test]
fn english_names_in_context() {
    has("Mr. John Smith called", Label::Person, "John Smith");
    has("Dr Jane Doe", Label::Person, "Jane Doe");
    has(
        "Hi, my name is Alice Cooper.",
        Label::Person,
        "Alice Cooper",
    );
    has("Name: Bob", Label::Person, "Bob");
    none("the name is important");
    none("John Smith called");
}

#[test]
fn hard_negatives() {
    for t in [
        "주문번호 2024011512345678 배송 조회",
        "order #ORD-2024-000123 shipped",
        "2024-01-15 10:30:00 로그",
        "timestamp 1700000000000",
        "2024.01.15 회의",
        "ISBN 978-89-6626-095-9",
        "ISBN 9788966260959",
        "바코드 8801234567893",
        "3 + 4 = 7, 123 * 456 = 56088, pi = 3.14159",
        "1234 5678 9012 3456",
        "v1.2.3 release, Chrome 120.0.6099.109",
        "금액 1,234,567원",
        "2+2=4 and 12345678 / 9 = 1371742",
        "tracking 1Z999AA10123456784",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ] {
        none(t);
    }
}

#[test]
fn spans_carry_char_offsets() {
    let t = "이메일 hong@example.com";
    let s = scanner().scan(t);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].char_start, s[0].char_end), (4, 20));
    assert_eq!((s[0].start, s[0].end), (10, 26));
}
