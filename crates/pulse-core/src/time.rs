//! Dates and timestamps as Pulse stores and compares them.
//!
//! Calendar dates are [`Day`]s (days since 1970-01-01) and instants are
//! [`Ts`]s (seconds since the Unix epoch, UTC). Both are plain integers so that
//! point-in-time filters are integer comparisons in SQL and in memory, and both
//! SQLite and PostgreSQL store them as `BIGINT`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::FieldError;

/// Days since 1970-01-01.
pub type Day = i32;
/// Seconds since 1970-01-01T00:00:00Z.
pub type Ts = i64;

pub const SECONDS_PER_DAY: i64 = 86_400;

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch")
}

/// The [`Day`] of a calendar date.
pub fn day_of(date: NaiveDate) -> Day {
    (date - epoch()).num_days() as Day
}

/// The calendar date of a [`Day`].
pub fn date_of(day: Day) -> NaiveDate {
    epoch() + chrono::Duration::days(day as i64)
}

/// The [`Day`] an instant falls on (UTC).
pub fn day_of_ts(ts: Ts) -> Day {
    ts.div_euclid(SECONDS_PER_DAY) as Day
}

/// Midnight UTC at the start of a [`Day`].
pub fn ts_of_day(day: Day) -> Ts {
    day as i64 * SECONDS_PER_DAY
}

/// `YYYY-MM-DD` of a [`Day`].
pub fn format_day(day: Day) -> String {
    date_of(day).format("%Y-%m-%d").to_string()
}

/// RFC 3339 (`2026-03-01T14:05:00Z`) of a [`Ts`].
pub fn format_ts(ts: Ts) -> String {
    match DateTime::<Utc>::from_timestamp(ts, 0) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => ts.to_string(),
    }
}

/// Parses a calendar date written `YYYY-MM-DD`.
pub fn parse_day(field: &str, s: &str) -> Result<Day, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(day_of)
        .map_err(|_| FieldError::new(field, format!("'{}' is not a date (YYYY-MM-DD)", clip(s))))
}

/// Parses an optional date: empty means absent.
pub fn parse_opt_day(field: &str, s: &str) -> Result<Option<Day>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_day(field, s).map(Some)
    }
}

/// Parses an instant: RFC 3339 (`2026-03-01T14:05:00Z`, any offset), a naive
/// `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` taken as UTC, or a bare date
/// taken as midnight UTC.
pub fn parse_ts(field: &str, s: &str) -> Result<Ts, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if let Some(ts) = parse_ts_fast(s) {
        return Ok(ts);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc().timestamp());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc().timestamp());
    }
    Err(FieldError::new(
        field,
        format!(
            "'{}' is not a timestamp (RFC 3339, e.g. 2026-03-01T14:05:00Z)",
            clip(s)
        ),
    ))
}

/// Parses an optional instant: empty means absent.
pub fn parse_opt_ts(field: &str, s: &str) -> Result<Option<Ts>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_ts(field, s).map(Some)
    }
}

/// The common exact form `YYYY-MM-DDTHH:MM:SSZ`, parsed without allocation:
/// bulk import spends most of its parsing time here.
fn parse_ts_fast(s: &str) -> Option<Ts> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(ts_of_day(day_of(date)) + (h * 3600 + m * 60 + sec) as i64)
}

/// The ISO week label (`2026-W48`) of a [`Day`].
pub fn iso_week_label(day: Day) -> String {
    let w = date_of(day).iso_week();
    format!("{:04}-W{:02}", w.year(), w.week())
}

/// The Monday that starts the ISO week containing `day`.
pub fn week_start(day: Day) -> Day {
    let wd = date_of(day).weekday().num_days_from_monday() as Day;
    day - wd
}

fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        let head: String = s.chars().take(40).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        let d = parse_day("d", "2026-11-23").unwrap();
        assert_eq!(format_day(d), "2026-11-23");
        assert_eq!(parse_day("d", "1970-01-01").unwrap(), 0);
    }

    #[test]
    fn timestamps_parse_in_every_supported_form() {
        let want = 1_772_373_900; // 2026-03-01T14:05:00Z
        assert_eq!(parse_ts("t", "2026-03-01T14:05:00Z").unwrap(), want);
        assert_eq!(parse_ts("t", "2026-03-01T15:05:00+01:00").unwrap(), want);
        assert_eq!(parse_ts("t", "2026-03-01 14:05:00").unwrap(), want);
        assert_eq!(parse_ts("t", "2026-03-01T14:05:00.000Z").unwrap(), want);
        assert_eq!(format_ts(want), "2026-03-01T14:05:00Z");
        assert_eq!(
            parse_ts("t", "2026-03-01").unwrap(),
            want - 14 * 3600 - 5 * 60
        );
    }

    #[test]
    fn bad_dates_name_the_field() {
        let e = parse_day("renewal_date", "2026-02-30").unwrap_err();
        assert_eq!(e.field, "renewal_date");
        assert!(e.reason.contains("not a date"), "{}", e.reason);
        let e = parse_ts("opened_at", "yesterday").unwrap_err();
        assert_eq!(e.field, "opened_at");
        assert!(parse_ts("t", "2026-13-01T00:00:00Z").is_err());
        assert!(parse_ts("t", "2026-01-01T25:00:00Z").is_err());
        assert_eq!(parse_opt_day("d", " ").unwrap(), None);
    }

    #[test]
    fn weeks() {
        let d = parse_day("d", "2026-11-26").unwrap(); // a Thursday
        assert_eq!(format_day(week_start(d)), "2026-11-23");
        assert_eq!(iso_week_label(d), "2026-W48");
    }
}
