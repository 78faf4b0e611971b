//! Screening stored histories before a pipeline run: one account whose
//! stored values are out of bounds (an MRR of 1e308 from before validation
//! had bounds, say) is left out with a reason, instead of turning sums into
//! infinity and failing the run for every account.

use pulse_core::{Entity, FieldError, MAX_MONEY, MAX_SEATS};

use crate::AccountHistory;

/// An account a run left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    pub account_id: String,
    /// The failed check, naming the field.
    pub reason: String,
}

impl Excluded {
    /// The warning a run reports for it.
    pub fn warning(&self) -> String {
        format!(
            "account '{}' left out: {}",
            pulse_core::echo(&self.account_id),
            self.reason
        )
    }
}

/// Splits `histories` into the usable ones and the excluded accounts. An
/// account is usable when its row passes validation and every subscription
/// event's MRR and seats are within the bounds ingest enforces.
pub fn screen(histories: Vec<AccountHistory>) -> (Vec<AccountHistory>, Vec<Excluded>) {
    let mut usable = Vec::with_capacity(histories.len());
    let mut excluded = Vec::new();
    for h in histories {
        match check(&h) {
            Ok(()) => usable.push(h),
            Err(e) => excluded.push(Excluded {
                account_id: h.account.id.clone(),
                reason: e.to_string(),
            }),
        }
    }
    (usable, excluded)
}

fn check(h: &AccountHistory) -> Result<(), FieldError> {
    h.account.validate()?;
    for s in &h.subscriptions {
        for (field, v) in [("mrr_before", s.mrr_before), ("mrr_after", s.mrr_after)] {
            if !(v.is_finite() && (0.0..=MAX_MONEY).contains(&v)) {
                return Err(FieldError::new(
                    format!("subscription_events.{field}"),
                    format!("{v} is outside 0..={MAX_MONEY:e}"),
                ));
            }
        }
        for (field, v) in [
            ("seats_before", s.seats_before),
            ("seats_after", s.seats_after),
        ] {
            if let Some(v) = v.filter(|v| !(0..=MAX_SEATS).contains(v)) {
                return Err(FieldError::new(
                    format!("subscription_events.{field}"),
                    format!("{v} is outside 0..={MAX_SEATS}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pulse_core::{Account, AccountStatus, Segment, SubscriptionKind};

    use super::*;
    use crate::SubscriptionFact;

    fn history(id: &str, mrr: f64) -> AccountHistory {
        AccountHistory::new(Account {
            id: id.into(),
            name: format!("Customer {id}"),
            segment: Segment::Smb,
            industry: "retail".into(),
            region: "us".into(),
            plan: "core".into(),
            mrr,
            seats: 10,
            owner: "dana".into(),
            start_date: 19_000,
            renewal_date: Some(19_365),
            status: AccountStatus::Active,
        })
    }

    #[test]
    fn one_bad_account_is_left_out_with_its_reason() {
        let mut event_bad = history("c", 100.0);
        event_bad.subscriptions.push(SubscriptionFact {
            kind: SubscriptionKind::Upgrade,
            occurred_at: 19_100 * 86_400,
            mrr_before: 100.0,
            mrr_after: f64::INFINITY,
            seats_before: None,
            seats_after: None,
        });
        let (usable, excluded) = screen(vec![
            history("a", 300.0),
            history("b", 1e308),
            event_bad,
            history("d", f64::NAN),
        ]);
        let ids: Vec<&str> = usable.iter().map(|h| h.account.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        let out: Vec<&str> = excluded.iter().map(|e| e.account_id.as_str()).collect();
        assert_eq!(out, ["b", "c", "d"]);
        assert!(excluded[0].reason.starts_with("mrr: "), "{:?}", excluded[0]);
        assert!(
            excluded[1]
                .reason
                .starts_with("subscription_events.mrr_after"),
            "{:?}",
            excluded[1]
        );
        assert_eq!(
            excluded[0].warning(),
            format!("account 'b' left out: {}", excluded[0].reason)
        );
    }
}
