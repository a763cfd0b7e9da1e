//! The Dutch education ladder as case systems record it (lowest first): used to compare a
//! client's education with a vacancy's minimum (matching), as an ordinal scale (clusters), and
//! by the synthetic municipality.

/// Education levels in order; "onbekend" (unknown) is not a level.
pub const EDUCATION_LEVELS: &[&str] = &[
    "geen",
    "basisonderwijs",
    "vmbo",
    "mbo1",
    "mbo2-4",
    "havo/vwo",
    "hbo",
    "wo",
];

/// The position of an education level in [`EDUCATION_LEVELS`] (case-insensitive; a few common
/// spellings accepted); `None` for "onbekend" and anything else.
pub fn education_level(text: &str) -> Option<u8> {
    let t = text.trim().to_lowercase();
    let t = match t.as_str() {
        "mbo 1" | "mbo-1" | "entree" => "mbo1",
        "mbo 2-4" | "mbo2" | "mbo3" | "mbo4" | "mbo 2" | "mbo 3" | "mbo 4" => "mbo2-4",
        "havo" | "vwo" => "havo/vwo",
        "bo" | "lagere school" => "basisonderwijs",
        other => other,
    };
    EDUCATION_LEVELS
        .iter()
        .position(|l| *l == t)
        .map(|p| p as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(education_level("MBO2-4"), Some(4));
        assert_eq!(education_level("havo"), Some(5));
        assert_eq!(education_level(" wo "), Some(7));
        assert_eq!(education_level("onbekend"), None);
    }
}
