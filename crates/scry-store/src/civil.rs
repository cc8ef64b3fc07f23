//! UTC calendar fields of a time, without a date crate, for ndiff's
//! `Sat Jan 16 08:00:00 2027` banners.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC time broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: usize,
    pub day: i64,
    pub seconds_of_day: i64,
    /// 0 is Sunday.
    pub weekday: usize,
}

impl Civil {
    /// The fields of `t` (days to date by H. Hinnant's civil_from_days).
    pub fn utc(t: SystemTime) -> Civil {
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let days = secs.div_euclid(86_400);
        let shifted = days + 719_468; // days since 0000-03-01
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let march_month = (5 * day_of_year + 2) / 153; // 0 is March
        let month = (if march_month < 10 { march_month + 3 } else { march_month - 9 }) as usize;
        Civil {
            year: year_of_era + era * 400 + i64::from(month <= 2),
            month,
            day: day_of_year - (153 * march_month + 2) / 5 + 1,
            seconds_of_day: secs.rem_euclid(86_400),
            weekday: (days + 4).rem_euclid(7) as usize, // 1970-01-01 was a Thursday
        }
    }

    /// `Sat Jan 16 08:00:00 2027`: strftime's `%a %b %d %H:%M:%S %Y`, as ndiff's banner.
    pub fn ndiff(self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let s = self.seconds_of_day;
        format!(
            "{} {} {:02} {:02}:{:02}:{:02} {}",
            DAYS[self.weekday],
            MONTHS[self.month - 1],
            self.day,
            s / 3600,
            s % 3600 / 60,
            s % 60,
            self.year
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ndiff_dates() {
        assert_eq!(Civil::utc(UNIX_EPOCH).ndiff(), "Thu Jan 01 00:00:00 1970");
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(Civil::utc(t).ndiff(), "Fri Jan 15 08:00:00 2027");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661); // 2000-02-29 01:01:01
        assert_eq!(Civil::utc(leap).ndiff(), "Tue Feb 29 01:01:01 2000");
    }
}
