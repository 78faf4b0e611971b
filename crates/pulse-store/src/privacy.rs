//! Erasure and retention of personal data (migration 0007).
//!
//! [`Store::forget_account`] and [`Store::forget_contact`] remove the
//! personal data of an account or a contact: names, interaction text, survey
//! comments, operational details and outreach notes, and every copy of the
//! erased names in stored lists and score explanations. They keep what the
//! models need and hold no personal data: ids, times, kinds, numbers, CSAT
//! and NPS scores, and the sentiment already computed from the text.
//! [`Store::drop_old_text`] applies the text retention: interaction and
//! survey text older than a day is dropped once its sentiment is stored.
//! Join keys that found the erased (an email address) are deleted. Each is
//! one transaction, and leaves an entry in `audit_log` with counts, never
//! the erased values.

use pulse_core::time::Ts;

use crate::{Store, StoreError, on_backend};

/// What an erased account's name becomes.
pub const ERASED_NAME: &str = "(erased)";

/// Rows an erasure or a retention run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    pub accounts: u64,
    pub contacts: u64,
    pub interactions: u64,
    pub surveys: u64,
    pub operational: u64,
    pub outreach: u64,
    /// Stored list rows and score explanations that named the erased.
    pub copies: u64,
    /// Join keys of import mappings (an email address) that found them.
    pub join_keys: u64,
}

impl Erased {
    /// `contacts=3 interactions=12 ...`: the audit entry's detail.
    pub fn summary(&self) -> String {
        format!(
            "accounts={} contacts={} interactions={} surveys={} operational={} outreach={} copies={} join_keys={}",
            self.accounts,
            self.contacts,
            self.interactions,
            self.surveys,
            self.operational,
            self.outreach,
            self.copies,
            self.join_keys
        )
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Ts,
    /// `forget_account`, `forget_contact` or `text_retention`.
    pub action: String,
    /// The account's or contact's id; for retention, the cut-off instant.
    pub subject: String,
    /// What changed, as counts.
    pub detail: String,
}

/// `s` as it appears inside a JSON string.
fn json_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

macro_rules! exec {
    ($tx:expr, $sql:expr $(, $bind:expr)*) => {
        sqlx::query($sql)$(.bind($bind))*.execute(&mut *$tx).await?.rows_affected()
    };
}

/// Replaces `name` by [`ERASED_NAME`] in `account`'s stored list rows and
/// score explanations (JSON text); the rows changed.
macro_rules! scrub_copies {
    ($tx:expr, $name:expr, $account:expr) => {{
        let esc = json_escaped($name);
        exec!(
            $tx,
            "UPDATE list_rows SET row_json = REPLACE(row_json, $1, $2) \
             WHERE account_id = $3 AND REPLACE(row_json, $1, $2) <> row_json",
            &esc,
            ERASED_NAME,
            $account
        ) + exec!(
            $tx,
            "UPDATE account_scores SET explanation = REPLACE(explanation, $1, $2) \
                 WHERE account_id = $3 AND REPLACE(explanation, $1, $2) <> explanation",
            &esc,
            ERASED_NAME,
            $account
        )
    }};
}

impl Store {
    /// Erases an account's personal data and its contacts'; `None` when no
    /// such account is stored.
    pub async fn forget_account(&self, id: &str, at: Ts) -> Result<Option<Erased>, StoreError> {
        let out = on_backend!(self, p => {
            let mut tx = p.begin().await?;
            // A write first: on SQLite the transaction then holds the write
            // lock (waiting for it if another writer has it) before it reads,
            // instead of failing to upgrade a read snapshot another writer
            // has moved past.
            exec!(tx, "UPDATE accounts SET name = name WHERE id = $1", id);
            let name: Option<(String,)> = sqlx::query_as("SELECT name FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((name,)) = name else {
                return Ok(None);
            };
            let mut names: Vec<String> = sqlx::query_as::<_, (String,)>(
                "SELECT DISTINCT name FROM contacts WHERE account_id = $1 AND name <> ''",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(n,)| n)
            .collect();
            if name != ERASED_NAME && !name.is_empty() {
                names.push(name);
            }
            let mut e = Erased {
                accounts: exec!(tx, "UPDATE accounts SET name = $1 WHERE id = $2 AND name <> $1", ERASED_NAME, id),
                contacts: exec!(tx, "UPDATE contacts SET name = '' WHERE account_id = $1 AND name <> ''", id),
                interactions: exec!(tx,
                    "UPDATE interactions SET subject = '', body = '' \
                     WHERE account_id = $1 AND (subject <> '' OR body <> '')", id),
                surveys: exec!(tx,
                    "UPDATE survey_responses SET comment = '' WHERE account_id = $1 AND comment <> ''", id),
                operational: exec!(tx,
                    "UPDATE operational_events SET detail = '' WHERE account_id = $1 AND detail <> ''", id),
                outreach: exec!(tx, "UPDATE outreach SET note = '' WHERE account_id = $1 AND note <> ''", id),
                copies: 0,
                join_keys: exec!(tx, "DELETE FROM join_keys WHERE account_id = $1", id),
            };
            for n in &names {
                e.copies += scrub_copies!(tx, n, id);
            }
            exec!(tx,
                "INSERT INTO audit_log (at, action, subject, detail) VALUES ($1, 'forget_account', $2, $3)",
                at, id, e.summary());
            tx.commit().await?;
            e
        });
        self.touch();
        tracing::info!(account = id, erased = %out.summary(), "forgot an account's personal data");
        Ok(Some(out))
    }

    /// Erases a contact's personal data: its name in every observation, the
    /// text of its interactions and its survey comments; `None` when no such
    /// contact is stored.
    pub async fn forget_contact(&self, id: &str, at: Ts) -> Result<Option<Erased>, StoreError> {
        let out = on_backend!(self, p => {
            let mut tx = p.begin().await?;
            // A write first (see forget_account).
            exec!(tx, "UPDATE contacts SET name = name WHERE id = $1", id);
            let found: Vec<(String, String)> = sqlx::query_as(
                "SELECT DISTINCT name, account_id FROM contacts WHERE id = $1",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            if found.is_empty() {
                return Ok(None);
            }
            let mut e = Erased {
                contacts: exec!(tx, "UPDATE contacts SET name = '' WHERE id = $1 AND name <> ''", id),
                interactions: exec!(tx,
                    "UPDATE interactions SET subject = '', body = '' \
                     WHERE contact_id = $1 AND (subject <> '' OR body <> '')", id),
                surveys: exec!(tx,
                    "UPDATE survey_responses SET comment = '' WHERE contact_id = $1 AND comment <> ''", id),
                join_keys: exec!(tx,
                    "DELETE FROM join_keys WHERE kind = 'contact' AND record_id = $1", id),
                ..Erased::default()
            };
            for (name, account) in found.iter().filter(|(n, _)| !n.is_empty()) {
                e.copies += scrub_copies!(tx, name, account);
            }
            exec!(tx,
                "INSERT INTO audit_log (at, action, subject, detail) VALUES ($1, 'forget_contact', $2, $3)",
                at, id, e.summary());
            tx.commit().await?;
            e
        });
        self.touch();
        tracing::info!(contact = id, erased = %out.summary(), "forgot a contact's personal data");
        Ok(Some(out))
    }

    /// Drops the text of interactions opened and survey answers given
    /// before `before` whose sentiment is stored (text never scored is kept
    /// until it is: `pulse sentiment backfill`). Recorded in the audit log.
    pub async fn drop_old_text(&self, before: Ts, at: Ts) -> Result<Erased, StoreError> {
        let out = on_backend!(self, p => {
            let mut tx = p.begin().await?;
            let e = Erased {
                interactions: exec!(tx,
                    "UPDATE interactions SET subject = '', body = '' \
                     WHERE opened_at < $1 AND sentiment_score IS NOT NULL \
                     AND (subject <> '' OR body <> '')", before),
                surveys: exec!(tx,
                    "UPDATE survey_responses SET comment = '' \
                     WHERE responded_at < $1 AND sentiment_score IS NOT NULL AND comment <> ''", before),
                ..Erased::default()
            };
            exec!(tx,
                "INSERT INTO audit_log (at, action, subject, detail) VALUES ($1, 'text_retention', $2, $3)",
                at, pulse_core::time::format_ts(before), e.summary());
            tx.commit().await?;
            e
        });
        self.touch();
        tracing::info!(erased = %out.summary(), "text retention applied");
        Ok(out)
    }

    /// The latest `limit` entries of the audit log, newest first.
    pub async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = on_backend!(self, p => {
            sqlx::query_as(
                "SELECT at, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT $1",
            )
            .bind(limit.min(100_000) as i64)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(at, action, subject, detail)| AuditEntry {
                at,
                action,
                subject,
                detail,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
