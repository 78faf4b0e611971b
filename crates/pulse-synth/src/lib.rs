//! A seeded synthetic customer base for Pulse: a payroll / HR / benefits
//! provider whose business customers each have a hidden health that drifts
//! week by week, driven by events, and that shows through, with noise, in
//! everything the provider observes. It writes the Pulse import files plus
//! the ground truth tests need to check that models recover the true drivers.
//!
//! [`generate`] builds a small base in memory (tests); [`write_csv`] streams
//! a base of any size to CSV files through `io::Write`. Both run the same
//! per-account generator: account `i` draws everything from its own RNG,
//! seeded from `(seed, i)`, so the output is reproducible and the same
//! whatever the number of threads. Accounts are generated on two worker
//! threads and written in account order.
//!
//! # The generative story
//!
//! `docs/synthetic-base.md` has every coefficient; in brief, per account:
//!
//! **Profile.** The segment (smb 65%, mid_market 27%, enterprise 8%) sets
//! the head count (log-normal, medians 18 / 260 / 2,500), the plan mix
//! (essentials / professional / enterprise: a base fee plus a price per
//! employee per month, with discounts up to 30% for enterprise), how many
//! states employees work in, and which contacts exist (admins, champion,
//! executive sponsor, billing, end users). Industry, region and owner (one
//! CSM per 150 accounts, each with a hidden knack for relationships) are
//! drawn too. About 1% of accounts per window month (at most 45%) start
//! inside the window and onboard there, 30% of them badly; the others
//! joined up to about 11 years before.
//!
//! **Hidden state, weekly.** Four latent components and a nuisance:
//!
//! * adoption `a` (share of seats using the product) drifts towards a target
//!   set by the account's base adoption, onboarding progress, poor support
//!   and price shock;
//! * support quality `s` drifts towards the account's base (lower for
//!   multi-state accounts and during a bad onboarding) and takes hits from
//!   incidents;
//! * relationship `r` weighs the warmth of the champion (0.40), executive
//!   sponsor (0.25), admins (0.20) and billing (0.15); a missing champion
//!   counts as 0.2 and a missing sponsor as 0.3;
//! * price shock jumps when a price increase is announced and decays by 7%
//!   a week;
//! * business conditions `u` (AR(1), sd 1) are never observed directly; a
//!   downturn (`u` below -0.5) shrinks the head count and brings seat
//!   reductions, contractions and late payments;
//! * a competitor's evaluation (0.2 a year, 8-26 weeks, drawn from a stream
//!   of its own) sours the words and NPS answers of those who decide and
//!   pay, and pulls the churn decision.
//!
//! The latent score is `x = 0.55 + 3.0 (a - 0.6) + 3.5 (s - 0.65) +
//! 3.0 (r - 0.55) - 1.2 shock + 0.35 u` and health is `100 sigmoid(x)`.
//! The customer's mood, which sets the tone of their words, is
//! `0.1 + 1.4 (s - 0.65) + 0.8 (r - 0.55) + 0.8 (a - 0.6)`; a price shock
//! sours only those who pay the invoices (billing contacts fully, the
//! executive sponsor a little), in their words and warmth.
//!
//! **Events.** Missed payroll deadlines and tax filing errors cut `s`, chill
//! the people involved and start a thread of angry contacts; platform
//! incidents hit part of the base in the same week; champions, sponsors and
//! admins leave and cold replacements arrive; good support episodes lift
//! `s`; trainings lift adoption; open enrollment brings benefits tickets;
//! price increases are announced 60 days before some renewals.
//!
//! **Observables.** Weekly usage (active users drawn from the seats at rate
//! `a`); interactions at a rate that rises as `s`, `a` and health fall and
//! with account size, with slower responses, more escalations, reopens and
//! repeat contacts when `s` is low, and text whose tone follows the mood;
//! CSAT after some resolutions; NPS from a few contacts each quarter;
//! contacts re-observed every eight weeks (strength from warmth, sentiment
//! from mood); payment failures, more likely at low health; seat true-ups
//! following the customer's own head-count growth.
//!
//! **Outcomes.** At each anniversary the account churns with probability
//! `sigmoid(c_seg - 2.2 (x_ema - 0.55) + 0.9 shock + 0.5 first_renewal +
//! 0.35 lost_champion + 1.76 evaluating)`, where `x_ema`
//! averages the last few weeks; a very unhealthy account may leave
//! mid-term; each health-driven churn is named after the largest pressure
//! on the account, so each reason follows its own traces; and accounts are
//! acquired or go out of business at a rate no observable predicts. Healthy
//! accounts may expand (upgrade or add seats), unhealthy ones contract (and
//! so do those in a downturn). The result is
//! about 15% / 11% / 6% annual logo churn for smb / mid_market /
//! enterprise, and a churn model on observable features reaches a ROC-AUC
//! around 0.8, not 0.99.
//!
//! # Ground truth
//!
//! [`Truth`] (`truth_accounts.csv`, `truth_health.csv`) holds, per account,
//! its outcome (churned, churn day, [`ChurnKind`], reason, expanded) and
//! drivers, and per account-week its health, latent components, churn
//! hazard and the events applied that week.

mod cal;
mod rows;
mod sim;
mod text;
mod truth;
mod world;
mod write;

#[cfg(test)]
mod tests;

use std::io;

use pulse_core::time::Day;
use pulse_core::{
    Account, Contact, Interaction, OperationalEvent, SubscriptionEvent, SurveyResponse, Usage,
};

pub use truth::{ChurnKind, Truth, TruthAccount, TruthWeek};
pub use write::{FILES, FileSummary, SynthSummary};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthConfig {
    /// Number of accounts: customers at the start of the window, and those
    /// that join during it.
    pub accounts: usize,
    /// Length of the observation window, in months, ending at `end`.
    pub months: u32,
    pub seed: u64,
    /// Last day of the window (inclusive): nothing is dated after it.
    pub end: Day,
    /// A change of regime (`None`: the same world throughout): from this day
    /// on, nearly every renewal notice carries a 10-20% price rise, and the
    /// price shock weighs almost three times as much in the renewal decision,
    /// so which drivers cause churn shifts. Used to test drift detection
    /// and the champion/challenger; see docs/synthetic-base.md.
    pub price_regime_from: Option<Day>,
}

impl SynthConfig {
    pub fn new(accounts: usize, months: u32, seed: u64, end: Day) -> Self {
        SynthConfig {
            accounts,
            months,
            seed,
            end,
            price_regime_from: None,
        }
    }

    /// First day of the observation window.
    pub fn window_start(&self) -> Day {
        if self.months == 0 {
            self.end
        } else {
            cal::add_months(self.end, -(self.months as i32)) + 1
        }
    }

    /// Checks the configuration is one the generator supports.
    pub fn check(&self) -> Result<(), SynthError> {
        if self.months == 0 || self.months > 240 {
            return Err(SynthError::invalid(
                "months",
                format!("{} is outside 1..=240", self.months),
            ));
        }
        if self.accounts > 50_000_000 {
            return Err(SynthError::invalid(
                "accounts",
                format!("{} is over the limit of 50000000", self.accounts),
            ));
        }
        // 1990-01-01 ..= 2199-12-31: keeps every derived date well inside
        // what the import format reads.
        if !(7_305..=84_005).contains(&self.end) {
            return Err(SynthError::invalid(
                "end",
                "must be between 1990-01-01 and 2199-12-31",
            ));
        }
        if let Some(d) = self.price_regime_from
            && !(self.window_start()..=self.end).contains(&d)
        {
            return Err(SynthError::invalid(
                "price_regime_from",
                "must be inside the window (window_start ..= end)",
            ));
        }
        Ok(())
    }
}

/// Why a base could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid configuration: {field} {reason}")]
    InvalidConfig { field: String, reason: String },
    #[error("cannot write {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot encode {file}: {source}")]
    Csv {
        file: String,
        #[source]
        source: csv::Error,
    },
}

impl SynthError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SynthError::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn io(file: impl Into<String>, source: io::Error) -> Self {
        SynthError::Io {
            file: file.into(),
            source,
        }
    }

    pub fn csv(file: impl Into<String>, source: csv::Error) -> Self {
        SynthError::Csv {
            file: file.into(),
            source,
        }
    }
}

/// A whole base in memory (for tests: keep `accounts` small). Each vector
/// holds the rows of the matching import file, in file order: by account,
/// then by time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthBase {
    pub accounts: Vec<Account>,
    pub contacts: Vec<Contact>,
    pub interactions: Vec<Interaction>,
    pub usage: Vec<Usage>,
    pub subscriptions: Vec<SubscriptionEvent>,
    pub surveys: Vec<SurveyResponse>,
    pub operational: Vec<OperationalEvent>,
    pub truth: Truth,
}

/// Generates a base in memory. The rows are exactly those [`write_csv`]
/// writes for the same configuration. A configuration [`SynthConfig::check`]
/// rejects still generates (a zero-month window has no weeks).
pub fn generate(cfg: &SynthConfig) -> SynthBase {
    let world = world::World::new(cfg);
    let mut base = SynthBase::default();
    let world = &world;
    let res: Result<(), std::convert::Infallible> = write::ordered(
        cfg.accounts,
        |range| range.map(|i| sim::simulate(world, i)).collect::<Vec<_>>(),
        |batch| {
            for out in batch {
                base.accounts.push(out.account);
                base.contacts.extend(out.contacts);
                base.interactions.extend(out.interactions);
                base.usage.extend(out.usage);
                base.subscriptions.extend(out.subscriptions);
                base.surveys.extend(out.surveys);
                base.operational.extend(out.operational);
                base.truth.accounts.push(out.truth);
                base.truth.weeks.extend(out.weeks);
            }
            Ok(())
        },
    );
    match res {
        Ok(()) => base,
        Err(never) => match never {},
    }
}

/// Streams a base to CSV import files, named as in [`FILES`]: the seven
/// Pulse import files (their columns are the `pulse_core` entities'
/// `COLUMNS`) and the two truth files. `open` creates the writer of one
/// file; `progress` is called with (accounts done, total) after every batch
/// of accounts.
pub fn write_csv(
    cfg: &SynthConfig,
    open: &mut dyn FnMut(&str) -> io::Result<Box<dyn io::Write + Send>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SynthSummary, SynthError> {
    write::write_csv(cfg, open, progress)
}
