//! Geography of the synthetic gemeente: CBS-style wijk and buurt codes, six-position postcodes
//! (PC6) per buurt and synthetic RD-like coordinates per buurt (for travel distances).

use crate::catalogue::{BUURT_SUFFIXES, WIJK_NAMES};
use crate::rng::Rng;

/// CBS gemeentecode of the synthetic municipality (9999 is not in use by any real gemeente).
pub const GEMEENTE_CODE: &str = "9999";
pub const GEMEENTE_NAME: &str = "Nieuwdorp (synthetisch)";

#[derive(Debug, Clone)]
pub struct Buurt {
    pub code: String,
    pub name: String,
    pub wijk_code: String,
    pub wijk_name: String,
    /// Synthetic coordinates in metres (Rijksdriehoek-like).
    pub x: f64,
    pub y: f64,
    /// Relative deprivation, 0 (well-off) to 1 (deprived): vulnerable clients live here more.
    pub deprivation: f64,
    pub postcodes: Vec<String>,
}

/// Letter pairs that PostNL never issues in postcodes.
const FORBIDDEN_PAIRS: [&str; 3] = ["SA", "SD", "SS"];

pub fn build(seed: u64) -> Vec<Buurt> {
    let mut rng = Rng::keyed(seed, &[0x6E0]);
    let mut out = Vec::new();
    for (w, wijk_name) in WIJK_NAMES.iter().enumerate() {
        let wijk_code = format!("WK{GEMEENTE_CODE}{w:02}");
        let n_buurten = 4 + (w % 4);
        // Wijken lie on a 4×3 grid of 3 km cells around the centre.
        let (cx, cy) = (
            148_000.0 + 3_000.0 * (w % 4) as f64,
            408_000.0 + 3_000.0 * (w / 4) as f64,
        );
        let deprivation_wijk = rng.uniform();
        let pc4 = 5201 + 3 * w as u32;
        let mut letters = 0u32;
        for b in 0..n_buurten {
            let name = format!("{wijk_name}{}", BUURT_SUFFIXES[b % BUURT_SUFFIXES.len()]);
            let n_pc = 10 + rng.range(0, 20) as usize;
            let mut postcodes = Vec::with_capacity(n_pc);
            while postcodes.len() < n_pc {
                let pair = format!(
                    "{}{}",
                    (b'A' + (letters / 26 % 26) as u8) as char,
                    (b'A' + (letters % 26) as u8) as char
                );
                letters += 1;
                if FORBIDDEN_PAIRS.contains(&pair.as_str()) {
                    continue;
                }
                let pc = pc4 + letters / 676;
                postcodes.push(format!("{pc}{pair}"));
            }
            out.push(Buurt {
                code: format!("BU{GEMEENTE_CODE}{w:02}{b:02}"),
                name,
                wijk_code: wijk_code.clone(),
                wijk_name: wijk_name.to_string(),
                x: cx + rng.range(-1_200, 1_200) as f64,
                y: cy + rng.range(-1_200, 1_200) as f64,
                deprivation: (0.6 * deprivation_wijk + 0.4 * rng.uniform()).clamp(0.0, 1.0),
                postcodes,
            });
        }
    }
    out
}

/// Straight-line distance between two buurten in kilometres.
pub fn distance_km(a: &Buurt, b: &Buurt) -> f64 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt() / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn codes_are_unique_and_well_formed() {
        let b = build(1);
        assert!(b.len() >= 50);
        let mut pcs: Vec<&String> = b.iter().flat_map(|x| &x.postcodes).collect();
        let n = pcs.len();
        pcs.sort();
        pcs.dedup();
        assert_eq!(pcs.len(), n);
        for x in &b {
            assert_eq!(x.code.len(), 10);
            assert!(x.code.starts_with(&x.wijk_code.replace("WK", "BU")));
            for p in &x.postcodes {
                assert_eq!(p.len(), 6);
                assert!(!FORBIDDEN_PAIRS.contains(&&p[4..]));
            }
        }
    }
}
