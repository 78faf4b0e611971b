//! Calendar arithmetic on [`Day`] numbers without allocation: civil dates,
//! weekdays, anniversaries and the `YYYY-MM-DD` text the truth files use.
//!
//! The conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (proleptic Gregorian calendar), checked against `pulse_core::time` in the
//! tests so both crates agree on every date.

use std::fmt::Write as _;

use pulse_core::time::Day;

/// `(year, month 1-12, day 1-31)` of a [`Day`].
pub(crate) fn civil(day: Day) -> (i32, u32, u32) {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// The [`Day`] of a civil date (the day must exist in that month).
pub(crate) fn from_civil(y: i32, m: u32, d: u32) -> Day {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as Day
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in a month of a year.
pub(crate) fn month_len(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 0 for Monday through 6 for Sunday (1970-01-01 was a Thursday).
pub(crate) fn weekday(day: Day) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

/// The Monday on or before `day`.
pub(crate) fn monday_of(day: Day) -> Day {
    day - weekday(day) as Day
}

/// The same calendar day `n` months later (clamped to the month's length,
/// so Jan 31 + 1 month is Feb 28 or 29).
pub(crate) fn add_months(day: Day, n: i32) -> Day {
    let (y, m, d) = civil(day);
    let total = y * 12 + (m as i32 - 1) + n;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    from_civil(ny, nm, d.min(month_len(ny, nm)))
}

/// The `n`th contract anniversary of `start` (Feb 29 falls on Feb 28).
pub(crate) fn anniversary(start: Day, n: i32) -> Day {
    add_months(start, 12 * n)
}

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Appends `YYYY-MM-DD`.
pub(crate) fn push_day(out: &mut String, day: Day) {
    let (y, m, d) = civil(day);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// Appends a date as people write it in a message: `March 14`.
pub(crate) fn push_spoken(out: &mut String, day: Day) {
    let (_, m, d) = civil(day);
    out.push_str(MONTHS[m as usize - 1]);
    let _ = write!(out, " {d}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_core::time;

    #[test]
    fn civil_dates_agree_with_pulse_core() {
        let mut s = String::new();
        for day in (-800..25_000)
            .step_by(37)
            .chain([0, 59, 60, 11_016, 20_513])
        {
            s.clear();
            push_day(&mut s, day);
            assert_eq!(s, time::format_day(day), "day {day}");
            let (y, m, d) = civil(day);
            assert_eq!(from_civil(y, m, d), day);
            assert_eq!(monday_of(day), time::week_start(day), "day {day}");
        }
    }

    #[test]
    fn months_and_anniversaries_clamp() {
        let d = |s: &str| time::parse_day("d", s).unwrap();
        assert_eq!(add_months(d("2025-01-31"), 1), d("2025-02-28"));
        assert_eq!(add_months(d("2024-01-31"), 1), d("2024-02-29"));
        assert_eq!(add_months(d("2024-11-15"), 3), d("2025-02-15"));
        assert_eq!(add_months(d("2024-03-15"), -3), d("2023-12-15"));
        assert_eq!(anniversary(d("2024-02-29"), 1), d("2025-02-28"));
        assert_eq!(anniversary(d("2024-02-29"), 4), d("2028-02-29"));
        assert_eq!(weekday(d("2026-11-23")), 0);
        let mut s = String::new();
        push_spoken(&mut s, d("2026-03-14"));
        assert_eq!(s, "March 14");
    }
}
