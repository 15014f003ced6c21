//! Throughput of `Scanner::scan` on mixed Korean/English chat text with identifiers, on plain
//! prose, and of scan + redact. Run: `cargo bench -p nuri-pii --bench scan`.

use criterion::{black_box, criterion_main, Criterion, Throughput};
use nuri_pii::{redact, RedactMode, Scanner};

/// Lines in the proportion chat logs have them: mostly prose, some identifiers, some
/// look-alikes (versions, dates, order numbers).
const LINES: &[&str] = &[
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

fn corpus(bytes: usize, lines: &[&str]) -> String {
    let mut s = String::with_capacity(bytes + 256);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(lines[i % lines.len()]);
        s.push('\n');
        i += 1;
    }
    s
}

fn bench(c: &mut Criterion) {
    let scanner = Scanner::new();
    let mixed = corpus(1 << 20, LINES);
    let prose = corpus(
        1 << 20,
        &[LINES[0], LINES[3], LINES[8], LINES[11], LINES[12]],
    );
    let mut g = c.benchmark_group("pii");
    g.throughput(Throughput::Bytes(mixed.len() as u64));
    g.bench_function("scan_mixed_1MiB", |b| {
        b.iter(|| scanner.scan(black_box(&mixed)))
    });
    g.throughput(Throughput::Bytes(prose.len() as u64));
    g.bench_function("scan_prose_1MiB", |b| {
        b.iter(|| scanner.scan(black_box(&prose)))
    });
    g.throughput(Throughput::Bytes(mixed.len() as u64));
    g.bench_function("scan_redact_mixed_1MiB", |b| {
        b.iter(|| {
            let spans = scanner.scan(black_box(&mixed));
            redact(&mixed, &spans, RedactMode::Pseudonymize)
        })
    });
    g.finish();
    c.bench_function("scanner_new", |b| b.iter(Scanner::new));
}

/// Criterion's generated group function has no doc comment of its own.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
