//! Formatting for the pages: every amount with its currency, every share
//! as a percentage with one decimal, every day as `YYYY-MM-DD`.

use pulse_core::time::{Day, Ts, format_day, format_ts};

/// `USD 1,234,568`.
pub(crate) fn money(currency: &str, v: f64) -> String {
    format!("{currency} {}", pulse_core::money::grouped(v))
}

/// `12.3%`; NaN reads "n/a".
pub(crate) fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "n/a".into()
    }
}

/// An optional share.
pub(crate) fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), pct)
}

/// A signed change in percentage points: `+3.2 pts`.
pub(crate) fn pts(v: f64) -> String {
    format!("{v:+.1} pts")
}

pub(crate) fn day(d: Day) -> String {
    format_day(d)
}

/// The day of an instant (`YYYY-MM-DD`).
pub(crate) fn ts_day(t: Ts) -> String {
    format_ts(t).chars().take(10).collect()
}

/// "in 12 days", "today", "3 days ago".
pub(crate) fn days_from_now(days: i32) -> String {
    match days {
        0 => "today".into(),
        1 => "tomorrow".into(),
        d if d > 0 => format!("in {d} days"),
        -1 => "yesterday".into(),
        d => format!("{} days ago", -d),
    }
}

/// A value for a query string (percent-encoding everything but unreserved
/// characters).
pub(crate) fn query_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_shares_and_days_read_as_documented() {
        assert_eq!(money("USD", 1234567.6), "USD 1,234,568");
        assert_eq!(pct(0.1234), "12.3%");
        assert_eq!(pct(f64::NAN), "n/a");
        assert_eq!(opt_pct(None), "n/a");
        assert_eq!(pts(-3.24), "-3.2 pts");
        assert_eq!(days_from_now(12), "in 12 days");
        assert_eq!(days_from_now(-3), "3 days ago");
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(ts_day(86_400 + 5), "1970-01-02");
        assert_eq!(query_value("a b/é"), "a%20b%2F%C3%A9");
    }
}
