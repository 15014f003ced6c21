//! Check-digit algorithms (sources in `docs/pii.md`). Every function takes ASCII digits `0..=9`
//! as numbers, not characters.

/// Luhn (ISO/IEC 7812-1) over the full number including its check digit.
pub fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Weighted sum of the first `weights.len()` digits.
fn weighted(digits: &[u8], weights: &[u32]) -> u32 {
    digits
        .iter()
        .zip(weights)
        .map(|(&d, &w)| u32::from(d) * w)
        .sum()
}

const RRN_WEIGHTS: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];

/// Legacy (pre-October-2020) resident registration number check digit:
/// `(11 - (Σ dᵢ·wᵢ mod 11)) mod 10` with weights 2,3,4,5,6,7,8,9,2,3,4,5.
pub fn rrn_check(d: &[u8; 13]) -> bool {
    let c = (11 - weighted(d, &RRN_WEIGHTS) % 11) % 10;
    c == u32::from(d[12])
}

/// Legacy foreigner registration number check digit: the RRN value plus 2, mod 10.
pub fn frn_check(d: &[u8; 13]) -> bool {
    let c = ((11 - weighted(d, &RRN_WEIGHTS) % 11) % 10 + 2) % 10;
    c == u32::from(d[12])
}

/// Business registration number (사업자등록번호): weights 1,3,7,1,3,7,1,3,5, plus the tens
/// digit of `d₉·5`; check = `(10 - sum mod 10) mod 10`.
pub fn brn_check(d: &[u8; 10]) -> bool {
    let w = [1, 3, 7, 1, 3, 7, 1, 3, 5];
    let sum = weighted(d, &w) + u32::from(d[8]) * 5 / 10;
    (10 - sum % 10) % 10 == u32::from(d[9])
}

/// Corporate registration number (법인등록번호): weights 1,2,1,2,… over 12 digits;
/// check = `(10 - sum mod 10) mod 10`.
pub fn crn_check(d: &[u8; 13]) -> bool {
    let w = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2];
    (10 - weighted(d, &w) % 10) % 10 == u32::from(d[12])
}

/// EAN-13 / ISBN-13 check digit (weights 1,3,…), used to recognise barcodes.
pub fn ean13_check(d: &[u8; 13]) -> bool {
    let w = [1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3];
    (10 - weighted(d, &w) % 10) % 10 == u32::from(d[12])
}

/// Converts ASCII digit bytes (`b"0123"`) to numbers; `None` if any byte is not a digit.
pub fn digits_of(s: &[u8]) -> Option<Vec<u8>> {
    s.iter()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d<const N: usize>(s: &str) -> [u8; N] {
        let v = digits_of(s.as_bytes()).unwrap_or_default();
        v.try_into().unwrap_or([0; N])
    }

    #[test]
    fn luhn_known_values() {
        assert!(luhn(&d::<16>("4111111111111111")));
        assert!(luhn(&d::<16>("5500000000000004")));
        assert!(luhn(&d::<16>("2221000000000009")));
        assert!(!luhn(&d::<16>("4111111111111112")));
    }

    #[test]
    fn rrn_known_value() {
        // 800101-1234567: sum of weights = 2·8+3·0+4·0+5·1+6·0+7·1+8·1+9·2+2·3+3·4+4·5+5·6 = 122;
        // 122 mod 11 = 1 → check (11-1) mod 10 = 0.
        assert!(rrn_check(&d::<13>("8001011234560")));
        assert!(!rrn_check(&d::<13>("8001011234567")));
        assert!(frn_check(&d::<13>("8001011234562")));
    }

    #[test]
    fn brn_known_value() {
        // The National Tax Service's own number, 101-82-00000-? style values from public docs.
        assert!(brn_check(&d::<10>("1168200276")));
        assert!(!brn_check(&d::<10>("1168200277")));
    }

    #[test]
    fn crn_and_ean() {
        // 110111-0012345 style: compute and check round trip.
        let mut x = d::<13>("1101110012340");
        for c in 0..10 {
            x[12] = c;
            if crn_check(&x) {
                break;
            }
        }
        assert!(crn_check(&x));
        assert!(ean13_check(&d::<13>("9788966260959")));
        assert!(ean13_check(&d::<13>("8801234567893")));
    }
}
