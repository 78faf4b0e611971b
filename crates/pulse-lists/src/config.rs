//! List settings (the `[lists]` section of the configuration).

use serde::{Deserialize, Serialize};

/// What the at-risk list is ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Churn probability x ARR (the default): money first.
    ArrAtRisk,
    /// Churn probability alone.
    Probability,
}

/// How lists are made, and when the server makes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListConfig {
    pub rank_by: RankBy,
    /// Accounts each owner can reach out to in a week: their slice of the
    /// at-risk list is the top `capacity_per_owner` of their own book.
    pub capacity_per_owner: usize,
    /// The assumed share of the ARR at risk that outreach saves, for the
    /// list's expected saved ARR (an assumption, stated with the figure; the
    /// outreach report measures what really happens).
    pub save_rate: f64,
    /// Accounts contacted within this many days before the list are marked
    /// on it with the contact and its outcome.
    pub contacted_days: u32,
    /// Accounts contacted within this many days are held back from their
    /// owner's slice (0: never).
    pub hold_back_days: u32,
    /// Share (0-0.5) of the at-risk accounts (yellow and red) kept off the
    /// list as a random control group; 0 turns the holdout off.
    pub holdout_share: f64,
    /// Seed of the holdout draw: an account is held out when a hash of the
    /// seed and its id falls under the share, so the draw is reproducible and
    /// the same accounts stay in the control group week after week.
    pub holdout_seed: u64,
    /// Risers shown in the movers list.
    pub movers: usize,
    /// Lowest experience score (0-100) of an expansion-ready account (the
    /// account must also be green).
    pub expansion_min_experience: f64,
    /// Fewer contacted (or comparison) accounts than this, and the outreach
    /// report says the numbers are too small to conclude.
    pub min_group: usize,
    /// Days after a list's week within which a churn counts against it in
    /// the outreach report.
    pub outcome_days: u32,
    /// Server: generate each week's lists on a schedule.
    pub schedule: bool,
    /// Server: the weekday (monday .. sunday) and UTC time (HH:MM) after
    /// which the week's lists are generated.
    pub schedule_day: String,
    pub schedule_time: String,
}

impl Default for ListConfig {
    fn default() -> Self {
        ListConfig {
            rank_by: RankBy::ArrAtRisk,
            capacity_per_owner: 10,
            save_rate: 0.2,
            contacted_days: 30,
            hold_back_days: 0,
            holdout_share: 0.0,
            holdout_seed: 2026,
            movers: 20,
            expansion_min_experience: 50.0,
            min_group: 20,
            outcome_days: 90,
            schedule: true,
            schedule_day: "monday".into(),
            schedule_time: "06:00".into(),
        }
    }
}

impl ListConfig {
    /// Checks every value; the error names the key (`lists.<key>: reason`).
    pub fn validate(&self) -> Result<(), String> {
        let bad = |key: &str, reason: String| Err(format!("lists.{key}: {reason}"));
        if self.capacity_per_owner == 0 {
            return bad("capacity_per_owner", "must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.save_rate) {
            return bad("save_rate", format!("{} is outside 0..=1", self.save_rate));
        }
        if !(0.0..=0.5).contains(&self.holdout_share) {
            return bad(
                "holdout_share",
                format!("{} is outside 0..=0.5", self.holdout_share),
            );
        }
        if !(0.0..=100.0).contains(&self.expansion_min_experience) {
            return bad(
                "expansion_min_experience",
                format!("{} is outside 0..=100", self.expansion_min_experience),
            );
        }
        if self.outcome_days == 0 {
            return bad("outcome_days", "must be at least 1".into());
        }
        self.schedule_weekday()?;
        self.schedule_minute()?;
        Ok(())
    }

    /// The scheduled weekday, 0 = Monday.
    pub fn schedule_weekday(&self) -> Result<u32, String> {
        const DAYS: [&str; 7] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let d = self.schedule_day.trim().to_ascii_lowercase();
        DAYS.iter()
            .position(|x| *x == d)
            .map(|i| i as u32)
            .ok_or_else(|| {
                format!(
                    "lists.schedule_day: '{}' is not a weekday (monday .. sunday)",
                    self.schedule_day
                )
            })
    }

    /// The scheduled time as minutes after midnight UTC.
    pub fn schedule_minute(&self) -> Result<u32, String> {
        let err = || {
            format!(
                "lists.schedule_time: '{}' is not HH:MM (UTC)",
                self.schedule_time
            )
        };
        let (h, m) = self.schedule_time.trim().split_once(':').ok_or_else(err)?;
        let h: u32 = h.parse().map_err(|_| err())?;
        let m: u32 = m.parse().map_err(|_| err())?;
        if h > 23 || m > 59 {
            return Err(err());
        }
        Ok(h * 60 + m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_key() {
        let cfg = ListConfig::default();
        cfg.validate().unwrap();
        assert_eq!(cfg.schedule_weekday(), Ok(0));
        assert_eq!(cfg.schedule_minute(), Ok(360));
        let check = |f: &dyn Fn(&mut ListConfig), key: &str| {
            let mut c = ListConfig::default();
            f(&mut c);
            let e = c.validate().unwrap_err();
            assert!(e.starts_with(&format!("lists.{key}:")), "{e}");
        };
        check(&|c| c.capacity_per_owner = 0, "capacity_per_owner");
        check(&|c| c.save_rate = 1.5, "save_rate");
        check(&|c| c.holdout_share = 0.9, "holdout_share");
        check(&|c| c.schedule_day = "mon".into(), "schedule_day");
        check(&|c| c.schedule_time = "25:00".into(), "schedule_time");
        check(&|c| c.schedule_time = "6".into(), "schedule_time");
        check(&|c| c.outcome_days = 0, "outcome_days");
    }
}
