//! How a mapping reads dates, times and numbers written the way other
//! systems write them.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, NaiveTime, Timelike};
use pulse_core::time::{Day, Ts, day_of};

/// At most this many characters of a value are quoted in an error.
const CLIP: usize = 40;

pub(crate) fn clip(s: &str) -> String {
    if s.chars().count() <= CLIP {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(CLIP).collect();
        c.push('…');
        c
    }
}

/// How times are written: formats (none: RFC 3339 and the native forms)
/// and the time zone of times written without an offset.
#[derive(Debug, Clone)]
pub(crate) struct TimeSpec {
    formats: Vec<Format>,
    zone: Zone,
}

/// The time zone of times written without an offset.
#[derive(Debug, Clone, Copy)]
enum Zone {
    Fixed(FixedOffset),
    /// A zone with daylight saving time (`Europe/Berlin`).
    Named(chrono_tz::Tz),
}

/// One format, compiled once.
#[derive(Debug, Clone)]
enum Format {
    Unix,
    UnixMs,
    Items(Arc<Vec<Item<'static>>>, String),
}

impl Format {
    fn text(&self) -> &str {
        match self {
            Format::Unix => "unix",
            Format::UnixMs => "unix_ms",
            Format::Items(_, t) => t,
        }
    }
}

fn compile(f: &str) -> Option<Format> {
    StrftimeItems::new(f)
        .parse_to_owned()
        .ok()
        .map(|items| Format::Items(Arc::new(items), f.to_string()))
}

/// The native forms, compiled once.
fn native_formats() -> &'static [Format] {
    static F: OnceLock<Vec<Format>> = OnceLock::new();
    F.get_or_init(|| {
        NATIVE_NAIVE
            .iter()
            .chain(["%Y-%m-%d"].iter())
            .map(|f| compile(f).expect("a valid format"))
            .collect()
    })
}

impl Default for TimeSpec {
    fn default() -> Self {
        TimeSpec {
            formats: Vec::new(),
            zone: Zone::Fixed(FixedOffset::east_opt(0).expect("UTC is an offset")),
        }
    }
}

/// The native forms tried when a rule gives no format.
const NATIVE_NAIVE: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

impl TimeSpec {
    /// `UTC`, `Z`, a fixed offset (`+02:00`, `-0500`, `+05`), or a zone of
    /// the IANA database with its daylight saving time (`Europe/Berlin`).
    pub(crate) fn with_timezone(&self, tz: &str) -> Result<TimeSpec, String> {
        let t = tz.trim();
        let offset = if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") || t == "GMT" {
            Some(0)
        } else {
            parse_offset(t.strip_prefix("UTC").unwrap_or(t))
        };
        let zone = match offset {
            Some(secs) => Zone::Fixed(
                FixedOffset::east_opt(secs)
                    .ok_or_else(|| format!("timezone '{tz}' is outside -23:59..+23:59"))?,
            ),
            None => Zone::Named(t.parse::<chrono_tz::Tz>().map_err(|_| {
                format!(
                    "timezone '{tz}' is not UTC, a fixed offset such as +01:00, or a zone \
                     such as Europe/Berlin or America/New_York"
                )
            })?),
        };
        Ok(TimeSpec {
            formats: self.formats.clone(),
            zone,
        })
    }

    /// Formats in chrono's strftime syntax (`%d/%m/%Y %H:%M`), or `unix`
    /// (seconds) and `unix_ms` (milliseconds since 1970).
    pub(crate) fn with_formats(&self, formats: Vec<String>) -> Result<TimeSpec, String> {
        let mut compiled = Vec::new();
        for f in &formats {
            if f == "unix" {
                compiled.push(Format::Unix);
                continue;
            }
            if f == "unix_ms" {
                compiled.push(Format::UnixMs);
                continue;
            }
            if f.trim().is_empty() {
                return Err("format: a format is empty".into());
            }
            if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
                return Err(format!(
                    "format '{f}' is not a valid strftime format (e.g. %Y-%m-%d %H:%M:%S)"
                ));
            }
            if !f.contains("%Y") && !f.contains("%y") && !f.contains("%F") && !f.contains("%s") {
                return Err(format!("format '{f}' has no year (%Y, %y or %F)"));
            }
            compiled.push(compile(f).ok_or_else(|| format!("format '{f}' is not valid"))?);
        }
        Ok(TimeSpec {
            formats: compiled,
            zone: self.zone,
        })
    }

    /// The instant, and the calendar day in the rule's time zone.
    pub(crate) fn parse(&self, s: &str) -> Result<(Ts, Day), String> {
        let s = s.trim();
        if self.formats.is_empty() {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(self.aware(t));
            }
            for f in native_formats() {
                if let Some(v) = self.try_format(f, s) {
                    return Ok(v);
                }
            }
            return Err(format!(
                "'{}' is not a date or time (RFC 3339 or YYYY-MM-DD HH:MM:SS; give the column's \
                 format in the mapping, e.g. format = \"%d/%m/%Y %H:%M\")",
                clip(s)
            ));
        }
        for f in &self.formats {
            if let Some(v) = self.try_format(f, s) {
                return Ok(v);
            }
        }
        Err(format!(
            "'{}' does not match the format {}",
            clip(s),
            self.formats
                .iter()
                .map(Format::text)
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    }

    /// A wall-clock time in the zone. Of the hour a clock is set back, the
    /// first; a time in the hour a clock skips reads as an hour later.
    fn local(&self, n: NaiveDateTime) -> (Ts, Day) {
        let ts = match self.zone {
            Zone::Fixed(o) => n.and_utc().timestamp() - i64::from(o.local_minus_utc()),
            Zone::Named(tz) => {
                use chrono::TimeZone;
                match tz.from_local_datetime(&n).earliest() {
                    Some(t) => t.timestamp(),
                    None => tz
                        .from_local_datetime(&(n + chrono::Duration::hours(1)))
                        .earliest()
                        .map_or_else(|| n.and_utc().timestamp(), |t| t.timestamp()),
                }
            }
        };
        (ts, day_of(n.date()))
    }

    fn aware(&self, t: DateTime<FixedOffset>) -> (Ts, Day) {
        let day = match self.zone {
            Zone::Fixed(o) => t.with_timezone(&o).date_naive(),
            Zone::Named(tz) => t.with_timezone(&tz).date_naive(),
        };
        (t.timestamp(), day_of(day))
    }

    /// One parse of `s` with `f`: an instant when the text has an offset, a
    /// local time when it has a time, else a local date at midnight.
    fn try_format(&self, f: &Format, s: &str) -> Option<(Ts, Day)> {
        match f {
            Format::Unix | Format::UnixMs => {
                let v = s.parse::<f64>().ok()?;
                let secs = if matches!(f, Format::Unix) {
                    v
                } else {
                    v / 1000.0
                };
                let t = DateTime::from_timestamp(secs.floor() as i64, 0)?;
                Some(self.aware(t.fixed_offset()))
            }
            Format::Items(items, text) => {
                if let Some(n) = fast_naive(text, s) {
                    return Some(self.local(n));
                }
                let mut p = Parsed::new();
                chrono::format::parse(&mut p, s, items.iter()).ok()?;
                if p.offset().is_some() {
                    return p.to_datetime().ok().map(|t| self.aware(t));
                }
                if let Ok(n) = p.to_naive_datetime_with_offset(0) {
                    return Some(self.local(n));
                }
                p.to_naive_date()
                    .ok()
                    .map(|d| self.local(d.and_time(NaiveTime::MIN)))
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with a `T`) read without chrono's parser, for
/// the formats that say exactly that: most exports write it, and a mapped
/// import reads one per time field.
fn fast_naive(format: &str, s: &str) -> Option<NaiveDateTime> {
    let sep = match format {
        "%Y-%m-%d %H:%M:%S" => b' ',
        "%Y-%m-%dT%H:%M:%S" => b'T',
        _ => return None,
    };
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != sep
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(date.and_time(time))
}

/// Appends `YYYY-MM-DDTHH:MM:SSZ` (what `pulse_core::time::format_ts`
/// writes, without its formatting machinery: a mapped import writes one per
/// time field).
pub(crate) fn push_ts(out: &mut String, ts: Ts) {
    match DateTime::from_timestamp(ts, 0) {
        Some(t) if (0..=9999).contains(&t.year()) => {
            push_ymd(out, t.year(), t.month(), t.day());
            out.push('T');
            push_2(out, t.hour());
            out.push(':');
            push_2(out, t.minute());
            out.push(':');
            push_2(out, t.second());
            out.push('Z');
        }
        _ => out.push_str(&pulse_core::time::format_ts(ts)),
    }
}

/// Appends `YYYY-MM-DD`.
pub(crate) fn push_day(out: &mut String, day: Day) {
    let d = pulse_core::time::date_of(day);
    if (0..=9999).contains(&d.year()) {
        push_ymd(out, d.year(), d.month(), d.day());
    } else {
        let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
    }
}

/// `YYYY-MM-DD` of a year in 0..=9999, digit by digit: a mapped row's
/// times are written once per row, and `write!` took a fifth of the
/// mapping's time per value in a profile of an Intercom import.
fn push_ymd(out: &mut String, year: i32, month: u32, day: u32) {
    let y = year.unsigned_abs();
    push_2(out, y / 100);
    push_2(out, y % 100);
    out.push('-');
    push_2(out, month);
    out.push('-');
    push_2(out, day);
}

/// Two digits of `v` (below 100).
fn push_2(out: &mut String, v: u32) {
    out.push(char::from(b'0' + (v / 10 % 10) as u8));
    out.push(char::from(b'0' + (v % 10) as u8));
}

fn parse_offset(t: &str) -> Option<i32> {
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// How numbers are written: the decimal separator; the other of `.` and
/// `,`, spaces and apostrophes group thousands. Currency symbols and a
/// three-letter currency code are ignored, `(12.50)` is negative.
#[derive(Debug, Clone)]
pub(crate) struct NumberFormat {
    decimal: char,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat { decimal: '.' }
    }
}

impl NumberFormat {
    pub(crate) fn new(decimal: &str) -> Result<NumberFormat, String> {
        match decimal {
            "." => Ok(NumberFormat { decimal: '.' }),
            "," => Ok(NumberFormat { decimal: ',' }),
            other => Err(format!("decimal '{other}' is not \".\" or \",\"")),
        }
    }

    pub(crate) fn parse(&self, s: &str) -> Option<f64> {
        let mut t = s.trim();
        let mut negative = false;
        if let Some(inner) = t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
            negative = true;
            t = inner.trim();
        }
        // A currency code before or after the amount.
        let code = |x: &str| x.len() == 3 && x.chars().all(|c| c.is_ascii_uppercase());
        if let Some((a, b)) = t.split_once(char::is_whitespace) {
            if code(a) {
                t = b.trim();
            } else if code(b.trim()) {
                t = a.trim();
            }
        }
        let group = if self.decimal == '.' { ',' } else { '.' };
        let mut out = String::with_capacity(t.len());
        for c in t.chars() {
            match c {
                '0'..='9' | '-' | '+' => out.push(c),
                c if c == self.decimal => out.push('.'),
                c if c == group => {}
                ' ' | '\u{a0}' | '\u{202f}' | '\'' | '$' | '€' | '£' | '¥' => {}
                'e' | 'E' if self.decimal == '.' => out.push(c),
                _ => return None,
            }
        }
        let v: f64 = out.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        Some(if negative { -v } else { v })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_core::time::parse_ts;

    #[test]
    fn times_and_days_are_written_as_chrono_writes_them() {
        let mut out = String::new();
        // From the epoch to past 9999, each second of a day and both sides
        // of a century and a leap day.
        let mut ts: Vec<Ts> = vec![0, 59, 86_399, 951_782_399, 951_782_400, 4_102_444_800];
        ts.extend((0..500).map(|i| -62_135_596_800 + i * 7_919_999_993));
        for t in ts {
            out.clear();
            push_ts(&mut out, t);
            let want = match DateTime::from_timestamp(t, 0) {
                Some(d) if (0..=9999).contains(&d.year()) => {
                    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                }
                _ => pulse_core::time::format_ts(t),
            };
            assert_eq!(out, want, "{t}");
            let day = pulse_core::time::day_of_ts(t);
            out.clear();
            push_day(&mut out, day);
            let d = pulse_core::time::date_of(day);
            assert_eq!(
                out,
                format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
                "{t}"
            );
        }
    }

    #[test]
    fn times_in_a_zone_and_a_format() {
        let utc = TimeSpec::default();
        assert_eq!(
            utc.parse("2026-03-01 14:05:00").unwrap().0,
            parse_ts("t", "2026-03-01T14:05:00Z").unwrap()
        );
        let berlin = utc.with_timezone("+01:00").unwrap();
        assert_eq!(
            berlin.parse("2026-03-01 14:05").unwrap().0,
            parse_ts("t", "2026-03-01T13:05:00Z").unwrap()
        );
        // A bare date is that day where it was written.
        let (ts, day) = berlin.parse("2026-03-01").unwrap();
        assert_eq!(pulse_core::time::format_day(day), "2026-03-01");
        assert_eq!(ts, parse_ts("t", "2026-02-28T23:00:00Z").unwrap());
        // An explicit offset wins over the zone.
        assert_eq!(
            berlin.parse("2026-03-01T14:05:00-05:00").unwrap().0,
            parse_ts("t", "2026-03-01T19:05:00Z").unwrap()
        );
        let plain = utc.with_formats(vec!["%Y-%m-%d %H:%M:%S".into()]).unwrap();
        assert_eq!(
            plain.parse("2026-03-01 14:05:09").unwrap().0,
            parse_ts("t", "2026-03-01T14:05:09Z").unwrap()
        );
        assert!(plain.parse("2026-02-30 14:05:09").is_err());
        assert!(plain.parse("2026-03-01 14:05").is_err());
        let us = utc
            .with_formats(vec!["%m/%d/%Y %I:%M %p".into(), "%m/%d/%Y".into()])
            .unwrap();
        assert_eq!(
            us.parse("3/15/2026 2:30 PM").unwrap().0,
            parse_ts("t", "2026-03-15T14:30:00Z").unwrap()
        );
        assert_eq!(
            pulse_core::time::format_day(us.parse("3/15/2026").unwrap().1),
            "2026-03-15"
        );
        let unix = utc.with_formats(vec!["unix_ms".into()]).unwrap();
        assert_eq!(unix.parse("1772373900000").unwrap().0, 1_772_373_900);
        let e = us.parse("2026-03-15").unwrap_err();
        assert!(
            e.contains("does not match the format %m/%d/%Y %I:%M %p or %m/%d/%Y"),
            "{e}"
        );
    }

    #[test]
    fn zones_with_daylight_saving() {
        let ny = TimeSpec::default()
            .with_timezone("America/New_York")
            .unwrap();
        // -05:00 in winter, -04:00 in summer.
        assert_eq!(
            ny.parse("2026-01-15 09:00:00").unwrap().0,
            parse_ts("t", "2026-01-15T14:00:00Z").unwrap()
        );
        assert_eq!(
            ny.parse("2026-07-15 09:00:00").unwrap().0,
            parse_ts("t", "2026-07-15T13:00:00Z").unwrap()
        );
        // 2026-03-08 02:30 does not exist there (clocks go 02:00 -> 03:00):
        // read as 03:30 EDT; 01:30 on 2026-11-01 happens twice: the first.
        assert_eq!(
            ny.parse("2026-03-08 02:30:00").unwrap().0,
            parse_ts("t", "2026-03-08T07:30:00Z").unwrap()
        );
        assert_eq!(
            ny.parse("2026-11-01 01:30:00").unwrap().0,
            parse_ts("t", "2026-11-01T05:30:00Z").unwrap()
        );
        // A UTC instant late in the evening there is that day there.
        let (_, day) = ny.parse("2026-07-16T02:00:00Z").unwrap();
        assert_eq!(pulse_core::time::format_day(day), "2026-07-15");
    }

    #[test]
    fn bad_zones_and_formats_are_refused() {
        let t = TimeSpec::default();
        assert!(
            t.with_timezone("Europe/Berlinn")
                .unwrap_err()
                .contains("Europe/Berlin or America/New_York")
        );
        assert!(t.with_timezone("+25:00").is_err());
        assert!(
            t.with_formats(vec!["%Q-%m".into()])
                .unwrap_err()
                .contains("strftime")
        );
        assert!(
            t.with_formats(vec!["%d/%m".into()])
                .unwrap_err()
                .contains("no year")
        );
    }

    #[test]
    fn numbers_as_people_write_them() {
        let en = NumberFormat::default();
        assert_eq!(en.parse("1,234.50"), Some(1234.5));
        assert_eq!(en.parse("$ 12.00"), Some(12.0));
        assert_eq!(en.parse("USD 99"), Some(99.0));
        assert_eq!(en.parse("(12.50)"), Some(-12.5));
        assert_eq!(en.parse("twelve"), None);
        assert_eq!(en.parse("12abc"), None);
        let de = NumberFormat::new(",").unwrap();
        assert_eq!(de.parse("1.234,50 €"), Some(1234.5));
        assert_eq!(de.parse("1 234,5"), Some(1234.5));
        assert!(NumberFormat::new(";").is_err());
    }
}
