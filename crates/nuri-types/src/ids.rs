//! Identifiers: short, prefixed, random strings (`org_…`, `proj_…`), and secrets for API keys and
//! admin tokens.

use rand::RngCore;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

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

/// A new id with the given prefix, e.g. `new_id("org")` → `org_3kT9…` (16 random characters).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(16))
}

/// A new request id (`req_…`), sortable by creation time within a millisecond.
pub fn new_request_id() -> String {
    format!("req_{}", random_base62(24))
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
        assert_eq!(new_secret("nk-").len(), 46);
    }
}
