//! Identifiers: short, prefixed, time-ordered strings (`org_…`, `rsv_…`, `req_…`), and secrets for
//! API keys and admin tokens.
//!
//! An id starts with its creation time (milliseconds, 8 base62 digits that sort as ASCII), then
//! random characters. Ids created together sort together, so a database index over them grows at
//! one edge: a batch of inserts dirties a few pages instead of one random page per row, which is
//! what keeps the ledger's and usage log's write volume low.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Base62 digits in ASCII order, so encoded times compare like the numbers.
const SORTED_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters of the time prefix: 62^8 ms is about 6,900 years.
const TIME_CHARS: usize = 8;

/// `ms` as `TIME_CHARS` base62 digits that sort as ASCII.
fn time_prefix(ms: u64) -> String {
    let mut digits = [b'0'; TIME_CHARS];
    let mut rest = ms;
    for d in digits.iter_mut().rev() {
        *d = SORTED_ALPHABET[(rest % 62) as usize];
        rest /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `prefix_` + the time prefix + `random` random characters.
fn time_ordered(prefix: &str, random: usize) -> String {
    format!(
        "{prefix}_{}{}",
        time_prefix(now_ms()),
        random_base62(random)
    )
}

/// Random base62 string of `len` characters from the OS-seeded thread RNG.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    let mut out = String::with_capacity(len);
    while out.len() < len {
        // Rejection sampling keeps the distribution uniform over 62 symbols.
        let byte = (rng.next_u32() & 0xff) as u8;
        if byte < 248 {
            out.push(ALPHABET[(byte % 62) as usize] as char);
        }
    }
    out
}

/// A new id with the given prefix, e.g. `new_id("org")` → `org_0Pq3xY2k…`: 8 characters of
/// creation time, then 12 random ones (71 bits).
pub fn new_id(prefix: &str) -> String {
    time_ordered(prefix, 12)
}

/// A new request id (`req_…`): 8 characters of creation time, then 16 random ones (95 bits).
pub fn new_request_id() -> String {
    time_ordered("req", 16)
}

/// A new secret: prefix plus 43 base62 characters (≈256 bits of entropy).
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", random_base62(43))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_unique() {
        let a = new_id("org");
        let b = new_id("org");
        assert!(a.starts_with("org_"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 8 + 12);
        assert_eq!(new_request_id().len(), 4 + 8 + 16);
        assert_eq!(new_secret("nk-").len(), 46);
    }

    #[test]
    fn ids_sort_by_creation_time() {
        assert_eq!(time_prefix(0), "00000000");
        let times = [
            1_u64,
            61,
            62,
            3_843,
            1_764_480_000_000,
            1_764_480_000_001,
            62_u64.pow(8) - 1,
        ];
        for pair in times.windows(2) {
            assert!(time_prefix(pair[0]) < time_prefix(pair[1]), "{pair:?}");
        }
        let before = time_prefix(now_ms());
        let id = new_id("rsv");
        let after = time_prefix(now_ms());
        assert!(
            before.as_str() <= &id[4..12] && &id[4..12] <= after.as_str(),
            "{id}"
        );
    }
}
