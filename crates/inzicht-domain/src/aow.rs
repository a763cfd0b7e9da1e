//! AOW age (state pension age). A bijstand spell ends with BUS reason 03 when the client reaches
//! it. Source: Rijksoverheid, "AOW-leeftijd" table (Algemene Ouderdomswet art. 7a), as it applied
//! per calendar year of reaching the age.

/// AOW age in months for someone who reaches it in `year`.
pub fn aow_age_months(year: i32) -> u32 {
    let (y, m) = match year {
        i32::MIN..=2012 => (65, 0),
        2013 => (65, 1),
        2014 => (65, 2),
        2015 => (65, 3),
        2016 => (65, 6),
        2017 => (65, 9),
        2018 => (66, 0),
        2019..=2021 => (66, 4),
        2022 => (66, 7),
        2023 => (66, 10),
        2024..=2027 => (67, 0),
        _ => (67, 3),
    };
    y * 12 + m
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rises_over_time() {
        assert_eq!(aow_age_months(2010), 780);
        assert_eq!(aow_age_months(2024), 804);
        let mut last = 0;
        for y in 2000..2040 {
            assert!(aow_age_months(y) >= last);
            last = aow_age_months(y);
        }
    }
}
