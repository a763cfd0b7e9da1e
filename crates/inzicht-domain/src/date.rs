//! Calendar dates and months without a time zone, as benefit administrations record them.
//!
//! Only the proleptic Gregorian calendar between years 1800 and 2200 is supported; that is every
//! date a benefit record can plausibly hold.

use std::fmt;

/// A calendar month, stored as `year * 12 + (month - 1)` so that months subtract as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    pub fn new(year: i32, month: u32) -> Self {
        Month(year * 12 + month as i32 - 1)
    }
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }
    /// 1-based month of the year.
    pub fn month(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }
    pub fn plus(self, months: i32) -> Self {
        Month(self.0 + months)
    }
    /// Whole months from `earlier` to `self`.
    pub fn since(self, earlier: Month) -> i32 {
        self.0 - earlier.0
    }
    pub fn first_day(self) -> Date {
        Date {
            year: self.year(),
            month: self.month(),
            day: 1,
        }
    }
    pub fn last_day(self) -> Date {
        let (y, m) = (self.year(), self.month());
        Date {
            year: y,
            month: m,
            day: days_in_month(y, m),
        }
    }
    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.trim().split_once('-')?;
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        if y.len() != 4 || !(1..=12).contains(&month) {
            return None;
        }
        Some(Month::new(year, month))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// A checked constructor: `None` for dates that do not exist (31-02, month 13, …).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1800..=2200).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        (day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }
    pub fn month_of(self) -> Month {
        Month::new(self.year, self.month)
    }
    /// ISO 8601, `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
    /// Dutch notation, `dd-mm-jjjj`.
    pub fn dutch(self) -> String {
        format!("{:02}-{:02}-{:04}", self.day, self.month, self.year)
    }
    /// Parses `YYYY-MM-DD`.
    pub fn parse_iso(text: &str) -> Option<Date> {
        let mut it = text.split('-');
        let (y, m, d) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }
    /// Parses `dd-mm-jjjj`.
    pub fn parse_dutch(text: &str) -> Option<Date> {
        let mut it = text.split('-');
        let (d, m, y) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }
    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
    /// The date `days` after 1970-01-01 (Hinnant's `civil_from_days`).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Whole years of age on `on` for someone born on `self`.
    pub fn age_on(self, on: Date) -> i32 {
        let mut age = on.year - self.year;
        if (on.month, on.day) < (self.month, self.day) {
            age -= 1;
        }
        age
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn months_and_dates() {
        let m = Month::new(2012, 1);
        assert_eq!(m.plus(13).to_string(), "2013-02");
        assert_eq!(Month::new(2024, 12).since(m), 155);
        assert_eq!(Month::new(2024, 2).last_day().day, 29);
        assert_eq!(Month::new(2023, 2).last_day().day, 28);
        assert_eq!(Month::parse("2012-01"), Some(m));
        assert_eq!(Month::parse("2012-13"), None);
        assert_eq!(Date::new(2015, 2, 31), None);
        let d = Date::new(2015, 3, 9).unwrap();
        assert_eq!(d.dutch(), "09-03-2015");
        assert_eq!(Date::parse_dutch("09-03-2015"), Some(d));
        assert_eq!(Date::parse_iso("2015-03-09"), Some(d));
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_epoch(), 11_017);
        for days in [-50_000i64, -1, 0, 59, 11_016, 11_017, 20_000, 60_000] {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
        let born = Date::new(1980, 6, 15).unwrap();
        assert_eq!(born.age_on(Date::new(2020, 6, 14).unwrap()), 39);
        assert_eq!(born.age_on(Date::new(2020, 6, 15).unwrap()), 40);
    }
}
