//! The application's one clock: every "now" and "today" in Pulse (the
//! default `as_of`, the current ISO week and report period, scheduled runs,
//! the timestamps written beside runs, models and decisions, the end of the
//! synthetic base in `pulse demo`) is read from a [`Clock`] handed down from
//! the front end.
//!
//! [`Clock::system`] reads the operating system's wall clock; it is the only
//! place in the workspace that does (a tidy test fails on any other use of
//! `Utc::now`, `SystemTime::now` or `Local::now`). [`Clock::fixed`] is a
//! manual clock that tests set to a date and advance by hand, so what a test
//! asserts never depends on the day it runs. Clones share one reading: a
//! manual clock advanced through one handle is advanced for every holder.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::time::{Day, SECONDS_PER_DAY, Ts, day_of_ts, format_ts, parse_day, parse_ts, ts_of_day};

/// Where the current time comes from (cheap to clone; clones share it).
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Source>,
}

enum Source {
    System,
    Manual(AtomicI64),
}

impl Clock {
    /// The operating system's wall clock.
    pub fn system() -> Clock {
        Clock {
            inner: Arc::new(Source::System),
        }
    }

    /// A manual clock reading `ts` (Unix seconds) until it is set or advanced.
    pub fn fixed(ts: Ts) -> Clock {
        Clock {
            inner: Arc::new(Source::Manual(AtomicI64::new(ts))),
        }
    }

    /// A manual clock at noon UTC of `day`.
    pub fn at_day(day: Day) -> Clock {
        Clock::fixed(ts_of_day(day) + SECONDS_PER_DAY / 2)
    }

    /// A manual clock from `2026-06-30` (noon UTC) or an RFC 3339 instant
    /// (`2026-06-30T08:00:00Z`); the error names what was expected.
    pub fn parse(s: &str) -> Result<Clock, String> {
        let s = s.trim();
        if s.len() == 10 {
            return parse_day("clock", s)
                .map(Clock::at_day)
                .map_err(|e| e.to_string());
        }
        parse_ts("clock", s)
            .map(Clock::fixed)
            .map_err(|e| e.to_string())
    }

    /// The current instant, in Unix seconds.
    pub fn now(&self) -> Ts {
        match &*self.inner {
            Source::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            Source::Manual(ts) => ts.load(Ordering::Acquire),
        }
    }

    /// Today's day (UTC).
    pub fn today(&self) -> Day {
        day_of_ts(self.now())
    }

    /// The current instant as RFC 3339 (`2026-06-30T12:00:00Z`).
    pub fn now_rfc3339(&self) -> String {
        format_ts(self.now())
    }

    /// Whether this is the wall clock (a manual clock cannot be set from
    /// outside the process, so it is only ever a test's or a replay's).
    pub fn is_system(&self) -> bool {
        matches!(&*self.inner, Source::System)
    }

    /// Moves a manual clock forward by `secs` (backward when negative); a
    /// no-op on the system clock, which returns `false`.
    pub fn advance(&self, secs: i64) -> bool {
        match &*self.inner {
            Source::System => false,
            Source::Manual(ts) => {
                ts.fetch_add(secs, Ordering::AcqRel);
                true
            }
        }
    }

    /// Sets a manual clock to `ts`; a no-op on the system clock, which
    /// returns `false`.
    pub fn set(&self, to: Ts) -> bool {
        match &*self.inner {
            Source::System => false,
            Source::Manual(ts) => {
                ts.store(to, Ordering::Release);
                true
            }
        }
    }
}

impl Default for Clock {
    /// The system clock.
    fn default() -> Self {
        Clock::system()
    }
}

impl PartialEq for Clock {
    /// Two system clocks are equal; manual clocks are equal when they read
    /// the same instant.
    fn eq(&self, other: &Clock) -> bool {
        match (&*self.inner, &*other.inner) {
            (Source::System, Source::System) => true,
            (Source::Manual(_), Source::Manual(_)) => self.now() == other.now(),
            _ => false,
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Source::System => f.write_str("Clock::system"),
            Source::Manual(_) => write!(f, "Clock::fixed({})", self.now_rfc3339()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_day, parse_day};

    #[test]
    fn a_manual_clock_reads_what_it_was_set_to_and_clones_share_it() {
        let day = parse_day("d", "2026-06-30").unwrap();
        let c = Clock::at_day(day);
        assert_eq!(c.today(), day);
        assert_eq!(c.now_rfc3339(), "2026-06-30T12:00:00Z");
        let shared = c.clone();
        assert!(c.advance(SECONDS_PER_DAY));
        assert_eq!(format_day(shared.today()), "2026-07-01");
        assert!(shared.set(ts_of_day(day)));
        assert_eq!(c.now(), ts_of_day(day));
        assert!(!c.is_system());
    }

    #[test]
    fn parse_takes_a_day_or_an_instant_and_names_what_is_wrong() {
        assert_eq!(
            Clock::parse("2025-01-15").unwrap().now_rfc3339(),
            "2025-01-15T12:00:00Z"
        );
        assert_eq!(
            Clock::parse("2025-01-15T08:30:00Z").unwrap().now_rfc3339(),
            "2025-01-15T08:30:00Z"
        );
        let e = Clock::parse("yesterday").unwrap_err();
        assert!(e.contains("clock"), "{e}");
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let c = Clock::system();
        assert!(c.is_system());
        assert!(!c.advance(10));
        assert!(!c.set(0));
        // After 2020-01-01, whatever day this runs.
        assert!(c.now() > 1_577_836_800);
    }
}
