//! Small character helpers shared by the detectors (byte-level, ASCII-fast).

/// Whether `b` is an ASCII letter, digit or `_`.
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Reads one decimal digit at `i`: ASCII `0-9` (1 byte) or full-width `０-９` (3 bytes).
/// Returns the digit's value and its length in bytes.
pub(crate) fn digit_at(bytes: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *bytes.get(i)?;
    if b.is_ascii_digit() {
        return Some((b - b'0', 1));
    }
    if b == 0xEF && bytes.get(i + 1) == Some(&0xBC) {
        let c = *bytes.get(i + 2)?;
        if (0x90..=0x99).contains(&c) {
            return Some((c - 0x90, 3));
        }
    }
    None
}

/// The `char` starting at byte `i`, if `i` is a char boundary inside `text`.
pub(crate) fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

/// The `char` ending at byte `i` (the one just before it), with its start offset.
pub(crate) fn char_before(text: &str, i: usize) -> Option<(usize, char)> {
    let c = text.get(..i)?.chars().next_back()?;
    Some((i - c.len_utf8(), c))
}

/// Whether `c` is a precomposed Hangul syllable (가-힣).
pub(crate) fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Byte offset where the run of Hangul syllables ending at `end` begins.
pub(crate) fn hangul_run_start(text: &str, end: usize) -> usize {
    let mut s = end;
    while let Some((p, c)) = char_before(text, s) {
        if !is_hangul(c) {
            break;
        }
        s = p;
    }
    s
}

/// Byte offset where the run of Hangul syllables starting at `start` ends.
pub(crate) fn hangul_run_end(text: &str, start: usize) -> usize {
    let mut e = start;
    while let Some(c) = char_at(text, e) {
        if !is_hangul(c) {
            break;
        }
        e += c.len_utf8();
    }
    e
}

/// Number of `char`s in `s`.
pub(crate) fn nchars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits() {
        let s = "０１9".as_bytes();
        assert_eq!(digit_at(s, 0), Some((0, 3)));
        assert_eq!(digit_at(s, 3), Some((1, 3)));
        assert_eq!(digit_at(s, 6), Some((9, 1)));
        assert_eq!(digit_at(s, 7), None);
    }

    #[test]
    fn hangul_runs() {
        let t = "a 홍길동님";
        let end = t.find('님').unwrap_or(0);
        assert_eq!(&t[hangul_run_start(t, end)..end], "홍길동");
        assert_eq!(&t[2..hangul_run_end(t, 2)], "홍길동님");
    }
}
