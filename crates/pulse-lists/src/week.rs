//! ISO weeks: `2026-W48` <-> its Monday.

use chrono::{NaiveDate, Weekday};
use pulse_core::FieldError;
use pulse_core::time::{Day, date_of, day_of, iso_week_label, week_start};

/// An ISO week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    /// `2026-W48`.
    pub label: String,
    /// Its Monday.
    pub start: Day,
}

impl Week {
    /// The week holding `day`.
    pub fn of(day: Day) -> Week {
        let start = week_start(day);
        Week {
            label: iso_week_label(start),
            start,
        }
    }

    /// Its Sunday.
    pub fn end(&self) -> Day {
        self.start + 6
    }

    /// The week before.
    pub fn previous(&self) -> Week {
        Week::of(self.start - 7)
    }
}

/// Parses `2026-W48` (also `2026-w48`, `2026W48`); the error names `field`.
pub fn parse_week(field: &str, s: &str) -> Result<Week, FieldError> {
    let t = s.trim().to_ascii_uppercase();
    let bad = || FieldError::new(field, format!("'{s}' is not an ISO week like 2026-W48"));
    let (y, w) = t.split_once('W').ok_or_else(bad)?;
    let y = y.strip_suffix('-').unwrap_or(y);
    if y.len() != 4 || w.is_empty() || w.len() > 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let week: u32 = w.parse().map_err(|_| bad())?;
    if !(1900..=9999).contains(&year) {
        return Err(FieldError::new(
            field,
            format!("'{s}': the year must be between 1900 and 9999"),
        ));
    }
    let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
        .ok_or_else(|| FieldError::new(field, format!("{year} has no ISO week {week}")))?;
    let start = day_of(monday);
    debug_assert_eq!(date_of(start), monday);
    Ok(Week {
        label: iso_week_label(start),
        start,
    })
}

#[cfg(test)]
mod tests {
    use pulse_core::time::{format_day, parse_day};

    use super::*;

    #[test]
    fn weeks_parse_and_print() {
        let w = parse_week("week", "2026-W48").unwrap();
        assert_eq!(w.label, "2026-W48");
        assert_eq!(format_day(w.start), "2026-11-23");
        assert_eq!(format_day(w.end()), "2026-11-29");
        assert_eq!(w.previous().label, "2026-W47");
        assert_eq!(parse_week("week", " 2026w48 ").unwrap(), w);
        assert_eq!(Week::of(parse_day("d", "2026-11-29").unwrap()), w);
        // Week 1 of 2026 starts in 2025; 2020 has a week 53, 2021 does not.
        assert_eq!(
            format_day(parse_week("week", "2026-W01").unwrap().start),
            "2025-12-29"
        );
        assert!(parse_week("week", "2020-W53").is_ok());
        for bad in [
            "",
            "2026-48",
            "2026-W",
            "26-W48",
            "2026-W480",
            "2026-Wxx",
            "2021-W53",
            "2026-W00",
            "0000-W01",
            "1899-W10",
        ] {
            let e = parse_week("week", bad).unwrap_err();
            assert_eq!(e.field, "week", "{bad}");
        }
    }
}
