//! Evaluation tooling for `nuri-pii`: a seeded generator of labelled Korean/English chat text
//! ([`gen`]), a scorer ([`score`]) and a generator of bulk mixed text for throughput runs.

pub mod gen;
pub mod rng;
pub mod score;
pub mod values;

/// Appends mixed chat text (documents of [`gen`] separated by new lines) to `out` until it
/// holds at least `bytes` bytes.
pub fn bulk_text(seed: u64, bytes: usize, out: &mut String) {
    let mut r = rng::Rng::new(seed);
    while out.len() < bytes {
        let d = gen::document(&mut r);
        out.push_str(&d.text);
        out.push('\n');
    }
}

/// Realistic chat lines (the same as `crates/nuri-pii/benches/scan.rs`): mostly prose, an
/// identifier every few lines, versions, dates and order numbers.
pub const CHAT_LINES: &[&str] = &[
    "안녕하세요, 지난주에 주문한 상품이 아직 도착하지 않아서 문의드립니다. 확인 부탁드려요.",
    "Hi team, the deploy of v1.24.3 finished at 2025-03-14 10:22:05 and all checks passed.",
    "연락처는 010-2345-6789 이고 메일은 hong.gildong@example.com으로 보내주세요.",
    "오늘 회의는 3시에 시작합니다. 자료는 공유 드라이브에 올려두었어요.",
    "Please wire the deposit to 국민은행 123456-01-234567 before Friday.",
    "주문번호 2024031512345678 건은 배송 준비 중입니다. 고객센터 1588-1234로 연락 주세요.",
    "The quick brown fox jumps over the lazy dog while the build runs on node@20.11.1.",
    "김민수 과장님께 전달 부탁드립니다. 주소는 서울특별시 강남구 테헤란로 123, 101동 1203호 입니다.",
    "그럼 내일 오전에 다시 연락드릴게요. 좋은 하루 보내세요!",
    "Card on file: 4111 1111 1111 1111, server 8.8.8.8 and 192.168.0.10 (internal).",
    "주민번호 800101-1234560 은 저장하지 말아 주세요. 여권번호 M123A4567 도 마찬가지예요.",
    "Let me know if anything else is needed; otherwise we'll close the ticket tomorrow.",
    "점심 메뉴 추천해 주실 분? 저는 김치찌개가 땡기네요 ㅎㅎ",
    "git clone git@github.com:nuri/gateway.git && cargo build --release",
];

/// Appends [`CHAT_LINES`] in order, one per line, until `out` holds at least `bytes` bytes.
pub fn chat_text(bytes: usize, out: &mut String) {
    for line in CHAT_LINES.iter().cycle() {
        if out.len() >= bytes {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
}
