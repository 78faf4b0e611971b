//! Erasure and retention of personal data, for every front end (`pulse
//! accounts forget`, `pulse privacy retention`, the `PrivacyService` RPCs).
//! The store does the work in one transaction each ([`Store::forget_account`],
//! [`Store::forget_contact`], [`Store::drop_old_text`]); this checks the
//! request and turns "no such record" into [`AppError::NotFound`].

use pulse_core::FieldError;
use pulse_core::time::{SECONDS_PER_DAY, Ts};
use pulse_store::{Erased, Store};

use crate::AppError;

/// Whose personal data to erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetTarget {
    Account(String),
    Contact(String),
}

impl ForgetTarget {
    /// The target of a request that names an account or a contact:
    /// exactly one of them.
    pub fn from_ids(account_id: &str, contact_id: &str) -> Result<ForgetTarget, AppError> {
        match (account_id.trim(), contact_id.trim()) {
            ("", "") => Err(FieldError::new(
                "account_id",
                "give the account_id or the contact_id to forget",
            )
            .into()),
            (a, "") => Ok(ForgetTarget::Account(a.to_string())),
            ("", c) => Ok(ForgetTarget::Contact(c.to_string())),
            _ => Err(FieldError::new(
                "contact_id",
                "give either account_id or contact_id, not both",
            )
            .into()),
        }
    }
}

/// Erases the target's personal data at `now`.
pub async fn forget(store: &Store, target: &ForgetTarget, now: Ts) -> Result<Erased, AppError> {
    let (found, what, id) = match target {
        ForgetTarget::Account(id) => (store.forget_account(id, now).await?, "account", id),
        ForgetTarget::Contact(id) => (store.forget_contact(id, now).await?, "contact", id),
    };
    found.ok_or_else(|| AppError::NotFound {
        what,
        id: id.clone(),
    })
}

/// Drops interaction and survey text older than `days` days (once its
/// sentiment is stored).
pub async fn apply_retention(store: &Store, days: u32, now: Ts) -> Result<Erased, AppError> {
    if days == 0 {
        return Err(FieldError::new("text_retention_days", "must be at least 1").into());
    }
    let before = now - i64::from(days) * SECONDS_PER_DAY;
    Ok(store.drop_old_text(before, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_exactly_one_record() {
        assert_eq!(
            ForgetTarget::from_ids(" a-1 ", "").unwrap(),
            ForgetTarget::Account("a-1".into())
        );
        assert_eq!(
            ForgetTarget::from_ids("", "c-1").unwrap(),
            ForgetTarget::Contact("c-1".into())
        );
        let none = ForgetTarget::from_ids("", " ").unwrap_err().to_string();
        assert!(none.contains("account_id"), "{none}");
        let both = ForgetTarget::from_ids("a", "c").unwrap_err().to_string();
        assert!(both.contains("not both"), "{both}");
    }

    #[tokio::test]
    async fn unknown_records_are_not_found_and_retention_needs_a_day() {
        let store = Store::in_memory().await.unwrap();
        let e = forget(&store, &ForgetTarget::Account("a-9".into()), 1)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AppError::NotFound {
                    what: "account",
                    ..
                }
            ),
            "{e}"
        );
        let e = forget(&store, &ForgetTarget::Contact("c-9".into()), 1)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AppError::NotFound {
                    what: "contact",
                    ..
                }
            ),
            "{e}"
        );
        assert!(apply_retention(&store, 0, 1).await.is_err());
        assert_eq!(
            apply_retention(&store, 30, 100 * SECONDS_PER_DAY)
                .await
                .unwrap(),
            Erased::default()
        );
        assert_eq!(
            store.audit_log(5).await.unwrap()[0].action,
            "text_retention"
        );
    }
}
