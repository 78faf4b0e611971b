//! Ground truth: what the generator knew and the import files only hint at.
//!
//! `truth_accounts.csv` holds one row per account (its outcome and the
//! drivers it went through); `truth_health.csv` one row per account and
//! simulated week (its hidden health, the latent components behind it, the
//! probability of churning that week and the events applied that week).
//! Tests use them to check that models recover the true drivers; Pulse
//! itself never reads them.

use std::fmt::Write as _;
use std::io;

use serde::Serialize;

use pulse_core::Segment;
use pulse_core::time::Day;

use crate::cal;

/// How an account churned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnKind {
    /// Did not renew at its annual anniversary.
    Renewal,
    /// Left in the middle of a term (health collapsed).
    Midterm,
    /// Left for reasons no observable predicts: acquired, went out of business.
    Exogenous,
}

impl ChurnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChurnKind::Renewal => "renewal",
            ChurnKind::Midterm => "midterm",
            ChurnKind::Exogenous => "exogenous",
        }
    }
}

/// One account's outcome and the drivers it went through in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthAccount {
    pub account_id: String,
    pub segment: Segment,
    pub start_date: Day,
    pub owner: String,
    /// Onboarding went badly (slow, adoption capped for months).
    pub bad_onboarding: bool,
    /// Mean weekly health (0-100) over the account's weeks in the window.
    pub mean_health: f64,
    /// Health in the account's last simulated week.
    pub final_health: f64,
    pub churned: bool,
    pub churn_day: Option<Day>,
    pub churn_kind: Option<ChurnKind>,
    /// The churn event's reason code; empty when not churned.
    pub churn_reason: String,
    /// Health-driven expansion happened (a plan upgrade or a seat expansion);
    /// organic head-count drift does not count.
    pub expanded: bool,
    pub expansion_day: Option<Day>,
    /// Health-driven contraction happened (a downgrade or a seat reduction).
    pub contracted: bool,
    /// Champions who left during the window.
    pub champion_left: u32,
    /// Price increases announced during the window.
    pub price_increases: u32,
    /// Service incidents (missed payroll deadline, tax filing error,
    /// platform incident) during the window.
    pub incidents: u32,
}

impl TruthAccount {
    pub const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "segment",
        "start_date",
        "owner",
        "bad_onboarding",
        "mean_health",
        "final_health",
        "churned",
        "churn_day",
        "churn_kind",
        "churn_reason",
        "expanded",
        "expansion_day",
        "contracted",
        "champion_left",
        "price_increases",
        "incidents",
    ];

    pub(crate) fn write<W: io::Write>(
        &self,
        w: &mut csv::Writer<W>,
        buf: &mut String,
    ) -> csv::Result<()> {
        w.write_field(&self.account_id)?;
        w.write_field(self.segment.as_str())?;
        field(w, buf, |b| cal::push_day(b, self.start_date))?;
        w.write_field(&self.owner)?;
        w.write_field(bool_str(self.bad_onboarding))?;
        field(w, buf, |b| push_f(b, self.mean_health, 2))?;
        field(w, buf, |b| push_f(b, self.final_health, 2))?;
        w.write_field(bool_str(self.churned))?;
        field(w, buf, |b| push_opt_day(b, self.churn_day))?;
        w.write_field(self.churn_kind.map(ChurnKind::as_str).unwrap_or(""))?;
        w.write_field(&self.churn_reason)?;
        w.write_field(bool_str(self.expanded))?;
        field(w, buf, |b| push_opt_day(b, self.expansion_day))?;
        w.write_field(bool_str(self.contracted))?;
        field(w, buf, |b| push_u(b, self.champion_left))?;
        field(w, buf, |b| push_u(b, self.price_increases))?;
        field(w, buf, |b| push_u(b, self.incidents))?;
        w.write_record(None::<&[u8]>)
    }
}

/// One account's hidden state in one simulated week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthWeek {
    pub account_id: String,
    /// The Monday starting the week.
    pub week: Day,
    /// Hidden health, 0-100: `100 * sigmoid(x)` of the latent score below.
    pub health: f64,
    /// Share of seats actively using the product, 0-1.
    pub adoption: f64,
    /// Quality of the support experience the account is getting, 0-1.
    pub support_quality: f64,
    /// Strength of the relationship with key personas, 0-1.
    pub relationship: f64,
    /// What is left of a price increase's sting (decays by 7% a week).
    pub price_shock: f64,
    /// The customer's own business conditions (unobserved, mean 0, sd 1).
    pub business: f64,
    /// A competitor's evaluation is running (unobserved; it shows in the
    /// words and survey answers of those who weigh it).
    pub evaluating: bool,
    /// The mood that sets the tone of the customer's words (about -1 to 1).
    pub mood: f64,
    /// Probability of churning this week (renewal decision included).
    pub churn_hazard: f64,
    /// Events applied this week, `;`-separated (see the crate docs).
    pub events: String,
}

impl TruthWeek {
    pub const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "week",
        "health",
        "adoption",
        "support_quality",
        "relationship",
        "price_shock",
        "business",
        "evaluating",
        "mood",
        "churn_hazard",
        "events",
    ];

    pub(crate) fn write<W: io::Write>(
        &self,
        w: &mut csv::Writer<W>,
        buf: &mut String,
    ) -> csv::Result<()> {
        w.write_field(&self.account_id)?;
        field(w, buf, |b| cal::push_day(b, self.week))?;
        field(w, buf, |b| push_f(b, self.health, 2))?;
        field(w, buf, |b| push_f(b, self.adoption, 3))?;
        field(w, buf, |b| push_f(b, self.support_quality, 3))?;
        field(w, buf, |b| push_f(b, self.relationship, 3))?;
        field(w, buf, |b| push_f(b, self.price_shock, 3))?;
        field(w, buf, |b| push_f(b, self.business, 3))?;
        w.write_field(bool_str(self.evaluating))?;
        field(w, buf, |b| push_f(b, self.mood, 3))?;
        field(w, buf, |b| push_f(b, self.churn_hazard, 5))?;
        w.write_field(&self.events)?;
        w.write_record(None::<&[u8]>)
    }
}

/// The ground truth of a whole base.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Truth {
    pub accounts: Vec<TruthAccount>,
    pub weeks: Vec<TruthWeek>,
}

fn field<W: io::Write>(
    w: &mut csv::Writer<W>,
    buf: &mut String,
    f: impl FnOnce(&mut String),
) -> csv::Result<()> {
    buf.clear();
    f(buf);
    w.write_field(buf.as_bytes())
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Fixed decimals without going through float formatting (which takes
/// its slow path for most values).
fn push_f(buf: &mut String, v: f64, decimals: u32) {
    let scale = 10i64.pow(decimals);
    let n = (v * scale as f64).round() as i64;
    if n < 0 {
        buf.push('-');
    }
    let a = n.unsigned_abs();
    let s = scale as u64;
    let _ = write!(buf, "{}.{:0w$}", a / s, a % s, w = decimals as usize);
}

fn push_u(buf: &mut String, v: u32) {
    let _ = write!(buf, "{v}");
}

fn push_opt_day(buf: &mut String, d: Option<Day>) {
    if let Some(d) = d {
        cal::push_day(buf, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals() {
        for (v, d, want) in [
            (0.12345, 3, "0.123"),
            (-0.12345, 3, "-0.123"),
            (-0.0001, 3, "0.000"),
            (63.456, 2, "63.46"),
            (1.0, 5, "1.00000"),
            (99.999, 2, "100.00"),
        ] {
            let mut s = String::new();
            push_f(&mut s, v, d);
            assert_eq!(s, want, "{v} to {d}");
        }
    }
}
