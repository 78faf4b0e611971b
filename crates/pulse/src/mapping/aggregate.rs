//! Usage from events: the rows of an aggregating usage block
//! (`aggregate = "week"` or `"day"`), one per event of an analytics
//! export, counted per account and period into usage rows.
//!
//! A period starts on a Monday (weeks) or is a day, in the mapping's time
//! zone (the `day` field's). Each counted field (`active_users`, `logins`,
//! `features_used`) is the number of the period's events where it is not
//! blank (`count = "rows"`), its distinct values (`"distinct"`), or the
//! sum of its whole numbers (`"sum"`, for rows already counted). An
//! account's periods without any event, from its first event's period to
//! the last period of the import, are idle: their counts are 0. Periods
//! before an account's first event are not known and make no row.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use pulse_core::Usage;
use pulse_core::time::Day;

use super::Count;

/// One event: its account, the day it happened on, the days of its
/// block's period, and the counted fields' texts ([`COUNTED`]'s order).
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) account_id: String,
    pub(crate) day: Day,
    pub(crate) period: u32,
    pub(crate) counted: [Option<(Count, String)>; 3],
}

/// The first day of the period of `period` days holding `day`: its Monday
/// for weeks, else the day itself.
pub(crate) fn period_start(day: Day, period: u32) -> Day {
    if period == 7 {
        // 1970-01-01, day 0, was a Thursday.
        day - (day + 3).rem_euclid(7)
    } else {
        day
    }
}

#[derive(Debug, Default)]
struct Group {
    /// The line of its first event (where a rejection is reported).
    line: usize,
    rows: [i64; 3],
    /// Distinct values by a 64-bit hash: an exact count but for
    /// collisions, about one in 10^19 per pair of values.
    distinct: [HashSet<u64>; 3],
}

/// The events of one import, by account and period.
#[derive(Debug, Default)]
pub(crate) struct UsageEvents {
    groups: HashMap<(String, u32, Day), Group>,
    /// Per period length, the last period start of any event.
    last: BTreeMap<u32, Day>,
    /// Events counted.
    pub(crate) events: u64,
}

impl UsageEvents {
    /// Counts one event, read at `line`.
    pub(crate) fn add(&mut self, line: usize, e: Event) {
        let start = period_start(e.day, e.period);
        let last = self.last.entry(e.period).or_insert(start);
        *last = (*last).max(start);
        self.events += 1;
        let g = self
            .groups
            .entry((e.account_id, e.period, start))
            .or_insert_with(|| Group {
                line,
                ..Group::default()
            });
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        for (k, c) in e.counted.into_iter().enumerate() {
            let Some((count, text)) = c else { continue };
            if text.is_empty() {
                continue;
            }
            match count {
                Count::Rows => g.rows[k] += 1,
                // Checked when the row was mapped: blank or a whole number.
                Count::Sum => {
                    g.rows[k] = g.rows[k].saturating_add(text.trim().parse().unwrap_or(0));
                }
                Count::Distinct => {
                    g.distinct[k].insert(hasher.hash_one(text.as_str()));
                }
            }
        }
    }

    /// The usage rows, by account and day, each with the line of its
    /// first event (an idle period: of the account's first event), and
    /// unchecked ([`Entity::validate`] says whether it is a usage row).
    /// Empties the counts.
    pub(crate) fn take_rows(&mut self) -> Vec<(usize, Usage)> {
        let groups = std::mem::take(&mut self.groups);
        let last = std::mem::take(&mut self.last);
        self.events = 0;
        let mut by_account: BTreeMap<(String, u32), BTreeMap<Day, Group>> = BTreeMap::new();
        for ((account, period, start), g) in groups {
            by_account
                .entry((account, period))
                .or_default()
                .insert(start, g);
        }
        let mut out = Vec::new();
        for ((account_id, period), mut periods) in by_account {
            let Some((&first, g)) = periods.first_key_value() else {
                continue;
            };
            let first_line = g.line;
            let end = last.get(&period).copied().unwrap_or(first);
            let mut day = first;
            while day <= end {
                let (line, counts) = match periods.remove(&day) {
                    Some(g) => (
                        g.line,
                        std::array::from_fn(|k| g.rows[k] + g.distinct[k].len() as i64),
                    ),
                    None => (first_line, [0; 3]),
                };
                let u = Usage {
                    account_id: account_id.clone(),
                    day,
                    period_days: i64::from(period),
                    active_users: counts[0],
                    logins: counts[1],
                    features_used: counts[2],
                };
                out.push((line, u));
                day += period as Day;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_core::Entity;

    fn ev(account: &str, day: &str, user: &str, event: &str) -> Event {
        let login = if event == "Signed In" { event } else { "" };
        let feature = if event == "Signed In" || event.is_empty() {
            ""
        } else {
            event
        };
        Event {
            account_id: account.into(),
            day: pulse_core::time::parse_day("day", day).unwrap(),
            period: 7,
            counted: [
                Some((Count::Distinct, user.into())),
                Some((Count::Rows, login.into())),
                Some((Count::Distinct, feature.into())),
            ],
        }
    }

    fn day(s: &str) -> Day {
        pulse_core::time::parse_day("day", s).unwrap()
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-23 was a Monday.
        for d in ["2026-11-23", "2026-11-25", "2026-11-29"] {
            assert_eq!(period_start(day(d), 7), day("2026-11-23"), "{d}");
        }
        assert_eq!(period_start(day("2026-11-30"), 7), day("2026-11-30"));
        assert_eq!(period_start(day("1969-12-31"), 7), day("1969-12-29"));
        assert_eq!(period_start(day("2026-11-25"), 1), day("2026-11-25"));
    }

    #[test]
    fn events_are_counted_per_account_and_week_and_idle_weeks_are_zero() {
        let mut u = UsageEvents::default();
        // Account a: two users in the week of 2026-11-02, nothing in the
        // next, one in the week of 2026-11-16.
        u.add(1, ev("a", "2026-11-02", "u1", "Signed In"));
        u.add(2, ev("a", "2026-11-03", "u2", "Signed In"));
        u.add(3, ev("a", "2026-11-08", "u1", "Payroll Run"));
        u.add(4, ev("a", "2026-11-08", "u2", "Payroll Run"));
        u.add(5, ev("a", "2026-11-08", "u2", "Report Exported"));
        u.add(6, ev("a", "2026-11-17", "u3", ""));
        // Account b: first seen in the last week of the import.
        u.add(7, ev("b", "2026-11-23", "x", "Signed In"));
        assert_eq!(u.events, 7);
        let rows: Vec<(usize, String, i64, i64, i64)> = u
            .take_rows()
            .into_iter()
            .map(|(line, r)| {
                r.validate().unwrap();
                assert_eq!(r.period_days, 7);
                (
                    line,
                    pulse_core::time::format_day(r.day),
                    r.active_users,
                    r.logins,
                    r.features_used,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (1, "2026-11-02".into(), 2, 2, 2),
                (1, "2026-11-09".into(), 0, 0, 0),
                (6, "2026-11-16".into(), 1, 0, 0),
                (1, "2026-11-23".into(), 0, 0, 0),
                (7, "2026-11-23".into(), 1, 1, 0),
            ]
        );
        assert!(u.groups.is_empty() && u.events == 0);
    }

    #[test]
    fn summed_fields_add_up_per_account_and_week() {
        let mut u = UsageEvents::default();
        let row = |d: &str, user: &str, sessions: &str| Event {
            account_id: "a".into(),
            day: day(d),
            period: 7,
            counted: [
                Some((Count::Distinct, user.into())),
                Some((Count::Sum, sessions.into())),
                None,
            ],
        };
        // Daily rows per user: two users on Monday, one again on Friday
        // with a blank count, one the next week.
        u.add(1, row("2026-11-02", "u1", "3"));
        u.add(2, row("2026-11-02", "u2", "5"));
        u.add(3, row("2026-11-06", "u1", ""));
        u.add(4, row("2026-11-10", "u1", "2"));
        let rows: Vec<(i64, i64, i64)> = u
            .take_rows()
            .into_iter()
            .map(|(_, r)| (r.active_users, r.logins, r.features_used))
            .collect();
        assert_eq!(rows, vec![(2, 8, 0), (1, 2, 0)]);
    }

    #[test]
    fn a_period_that_is_not_a_usage_row_is_rejected_with_the_line_of_its_first_event() {
        let mut u = UsageEvents::default();
        u.add(4, ev("a", "2026-11-02", "u1", "Signed In"));
        u.add(9, ev("", "2026-11-02", "u1", "Signed In"));
        u.add(12, ev("", "2026-11-03", "u2", "Signed In"));
        let rows = u.take_rows();
        assert_eq!(rows.len(), 2);
        let (line, bad) = &rows[0];
        assert_eq!(*line, 9);
        assert_eq!(bad.validate().unwrap_err().field, "account_id");
        assert_eq!(rows[1].0, 4);
        assert_eq!(rows[1].1.logins, 1);
        rows[1].1.validate().unwrap();
    }
}
