//! Calendar arithmetic on [`Day`]s without a date library: civil dates and
//! annual anniversaries (renewals), fast enough to run per account per as-of.

use pulse_core::time::Day;

/// `(year, month 1-12, day 1-31)` of a [`Day`] (proleptic Gregorian).
pub(crate) fn civil_from_day(day: Day) -> (i64, u32, u32) {
    // H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The [`Day`] of a civil date (the day must exist in its month).
pub(crate) fn day_from_civil(y: i64, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as Day
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The anniversary of `start` in year `y` (29 February falls on the 28th in
/// common years).
fn anniversary(start: (i64, u32, u32), y: i64) -> Day {
    let (_, m, d) = start;
    day_from_civil(y, m, d.min(days_in_month(y, m)))
}

/// Days from `today` to the next annual anniversary of `start` (the first is
/// one year after it), 0 when `today` is one; `None` before `start`.
pub(crate) fn days_to_anniversary(start: Day, today: Day) -> Option<i32> {
    if today < start {
        return None;
    }
    let s = civil_from_day(start);
    let (y, _, _) = civil_from_day(today);
    let mut year = y.max(s.0 + 1);
    loop {
        let a = anniversary(s, year);
        if a >= today {
            return Some(a - today);
        }
        year += 1;
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::time::{format_day, parse_day};

    use super::*;

    #[test]
    fn civil_dates_agree_with_pulse_core() {
        for day in (-800_000..800_000).step_by(997).chain(19_000..21_000) {
            let (y, m, d) = civil_from_day(day);
            if (0..10_000).contains(&y) {
                assert_eq!(format!("{y:04}-{m:02}-{d:02}"), format_day(day), "{day}");
            }
            assert_eq!(day_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn anniversaries() {
        let d = |s| parse_day("d", s).unwrap();
        let start = d("2024-03-15");
        assert_eq!(days_to_anniversary(start, d("2024-03-14")), None);
        assert_eq!(days_to_anniversary(start, start), Some(365));
        assert_eq!(days_to_anniversary(start, d("2025-03-15")), Some(0));
        assert_eq!(days_to_anniversary(start, d("2025-03-16")), Some(364));
        assert_eq!(days_to_anniversary(start, d("2026-03-10")), Some(5));
        let leap = d("2024-02-29");
        assert_eq!(days_to_anniversary(leap, d("2025-02-27")), Some(1));
        assert_eq!(days_to_anniversary(leap, d("2025-03-01")), Some(364));
        assert_eq!(days_to_anniversary(leap, d("2027-12-31")), Some(60));
        assert_eq!(days_to_anniversary(leap, d("2028-02-28")), Some(1));
    }
}
