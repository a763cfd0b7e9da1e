//! The burgerservicenummer (BSN) and its elfproef.
//!
//! A BSN has nine digits ABCDEFGHI (an eight-digit number gets a leading zero). It is valid when
//! 9A + 8B + 7C + 6D + 5E + 4F + 3G + 2H − 1·I ≡ 0 (mod 11). The −1 weight on the last digit is
//! what distinguishes the BSN test from the bank-account elfproef (shared/domain.md §6).

/// Weighted sum of the BSN elfproef; `None` when the text is not 8 or 9 ASCII digits.
fn weighted_sum(digits: &[u8; 9]) -> i64 {
    const WEIGHTS: [i64; 9] = [9, 8, 7, 6, 5, 4, 3, 2, -1];
    digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| i64::from(*d) * w)
        .sum()
}

/// Parses 8 or 9 ASCII digits into nine digit values (left-padding an 8-digit number with 0).
pub fn digits(text: &str) -> Option<[u8; 9]> {
    let bytes = text.as_bytes();
    if !(bytes.len() == 8 || bytes.len() == 9) || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = [0u8; 9];
    let offset = 9 - bytes.len();
    for (i, b) in bytes.iter().enumerate() {
        out[offset + i] = b - b'0';
    }
    Some(out)
}

/// True when `text` is a BSN that passes the elfproef. All-zero numbers are rejected: they pass
/// the arithmetic but are never issued.
pub fn is_valid(text: &str) -> bool {
    match digits(text) {
        Some(d) => d.iter().any(|&x| x != 0) && weighted_sum(&d).rem_euclid(11) == 0,
        None => false,
    }
}

/// Formats a nine-digit BSN from its number.
pub fn format(number: u32) -> String {
    format!("{number:09}")
}

/// Completes eight leading digits (as a number below 10^8) into a valid BSN by choosing the check
/// digit I so that the weighted sum is divisible by 11. Returns `None` when no digit 0–9 works
/// (the required check value is 10), which happens for about 1 in 11 prefixes.
pub fn complete(prefix: u32) -> Option<u32> {
    if prefix >= 100_000_000 {
        return None;
    }
    let mut d = [0u8; 9];
    let mut rest = prefix;
    for i in (0..8).rev() {
        d[i] = (rest % 10) as u8;
        rest /= 10;
    }
    let partial = weighted_sum(&d);
    // partial − I ≡ 0 (mod 11)  ⇒  I ≡ partial (mod 11)
    let check = partial.rem_euclid(11);
    if check > 9 {
        return None;
    }
    let number = prefix * 10 + check as u32;
    if number == 0 {
        None
    } else {
        Some(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_and_invalid_numbers() {
        // 111222333: 9+8+7+12+10+8+9+6-3 = 66 = 6·11.
        assert!(is_valid("111222333"));
        assert!(is_valid("123456782"));
        assert!(!is_valid("123456789"));
        assert!(!is_valid("000000000"));
        assert!(!is_valid("12345678a"));
        assert!(!is_valid("1234567"));
        // An eight-digit number gets a leading zero.
        assert!(is_valid("11222333") == is_valid("011222333"));
    }

    #[test]
    fn complete_always_yields_valid_numbers() {
        let mut made = 0;
        for prefix in (10_000_000..10_100_000).step_by(7) {
            if let Some(n) = complete(prefix) {
                assert!(is_valid(&format(n)), "{n}");
                made += 1;
            }
        }
        assert!(
            made > 12_000,
            "about 10 in 11 prefixes complete, got {made}"
        );
    }
}
