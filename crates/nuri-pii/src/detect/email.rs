//! `EMAIL`: `local@domain.tld` in ASCII. The span ends where the address ends, so a Korean
//! particle glued to it (`hong@example.com으로`) stays outside. Git remotes
//! (`git@github.com:org/repo.git`), package versions (`react@18.2.0`) and asset names
//! (`icon@2x.png`) are not addresses.

use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// File extensions that look like top-level domains in `name@2x.png`-style asset names.
const FILE_TLDS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "js", "ts", "css", "json", "lock", "tgz", "zip",
    "git",
];

/// Detects an address around the `@` at `at`.
pub(crate) fn detect(ctx: &Ctx<'_>, at: usize) -> Option<Hit> {
    let b = ctx.bytes;
    let mut s = at;
    while s > 0 && at - s < 64 && is_local_byte(b[s - 1]) {
        s -= 1;
    }
    while s < at && matches!(b[s], b'.' | b'-' | b'+') {
        s += 1;
    }
    if s == at || b[at - 1] == b'.' || (s > 0 && b[s - 1] == b'@') {
        return None;
    }
    let mut e = at + 1;
    while e < b.len() && e - at < 255 && is_domain_byte(b[e]) {
        e += 1;
    }
    while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = ctx.text.get(at + 1..e)?;
    let bad_label =
        |l: &str| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-');
    if !domain.contains('.') || domain.split('.').any(bad_label) {
        return None;
    }
    let tld = domain.rsplit('.').next().unwrap_or("");
    let tld_ok =
        (tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())) || tld.starts_with("xn--");
    if !tld_ok || FILE_TLDS.iter().any(|f| tld.eq_ignore_ascii_case(f)) {
        return None;
    }
    // `git@host:path` (scp-like remote) and `user@host:port/path` are not mail addresses.
    if b.get(e) == Some(&b':') && b.get(e + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    Some(Hit::new(s, e, Label::Email, 0.99))
}
