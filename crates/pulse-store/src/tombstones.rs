//! Records deleted at their source, named in a tombstone file rather than
//! exported again with a `deleted_at` mark (an export that simply drops
//! deleted records, plus the source's list of deletions).
//!
//! Marking sets the stored record's `deleted_at`, exactly as importing it
//! with the mark would: features count it until then and leave it out from
//! then on, and importing the record again without the mark restores it.
//! A contact's every stored observation is marked.

use pulse_core::time::Ts;
use pulse_core::{EntityKind, FieldError};

use crate::ingest::Rejected;
use crate::{Store, StoreError, on_backend};

/// One record its source says it deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    /// Its position in the caller's file or stream (for rejections).
    pub position: usize,
    pub kind: EntityKind,
    pub id: String,
    pub deleted_at: Ts,
}

/// What marking a batch of tombstones did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TombstoneOutcome {
    /// Tombstones that marked a stored record.
    pub marked: u64,
    /// Tombstones that named no stored record, or a kind of record that is
    /// not deleted this way, with the reason.
    pub rejected: Vec<Rejected>,
}

/// The table of a kind of record that can be deleted at its source.
/// Accounts are not: forgetting erases one, and a churn event ends a
/// customer; usage days and outreach are Pulse's own or aggregates.
pub fn deletable_table(kind: EntityKind) -> Option<&'static str> {
    match kind {
        EntityKind::Contact => Some("contacts"),
        EntityKind::Interaction => Some("interactions"),
        EntityKind::Subscription => Some("subscription_events"),
        EntityKind::Survey => Some("survey_responses"),
        EntityKind::Operational => Some("operational_events"),
        EntityKind::Account | EntityKind::Usage | EntityKind::Outreach => None,
    }
}

impl Store {
    /// Marks each tombstone's stored record deleted at its instant, in one
    /// transaction. A tombstone naming no stored record is rejected with
    /// its position and the rest are applied. With `dry_run` the
    /// transaction is rolled back: the counts say what would happen.
    pub async fn mark_deleted(
        &self,
        tombstones: Vec<Tombstone>,
        dry_run: bool,
    ) -> Result<TombstoneOutcome, StoreError> {
        if !dry_run {
            self.touch();
        }
        let mut out = TombstoneOutcome::default();
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            for t in tombstones {
                let Some(table) = deletable_table(t.kind) else {
                    out.rejected.push(Rejected {
                        position: t.position,
                        kind: t.kind,
                        error: FieldError::new(
                            "entity",
                            format!("{} records are not deleted at their source", t.kind.as_str()),
                        ),
                        id: t.id,
                    });
                    continue;
                };
                let sql = format!("UPDATE {table} SET deleted_at = $1 WHERE id = $2");
                let done = sqlx::query(&sql)
                    .bind(t.deleted_at)
                    .bind(t.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() > 0 {
                    out.marked += 1;
                } else {
                    out.rejected.push(Rejected {
                        position: t.position,
                        kind: t.kind,
                        error: FieldError::new(
                            "id",
                            format!("no stored {} has the id '{}'", t.kind.as_str(), t.id),
                        ),
                        id: t.id,
                    });
                }
            }
            if dry_run {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::Record;

    use super::*;
    use crate::ingest::tests::{account, interaction};

    #[tokio::test]
    async fn tombstones_mark_stored_records_and_reject_the_rest() {
        for store in crate::test_stores("tombstones").await {
            let name = store.backend_name();
            store
                .ingest(vec![
                    (0, Record::Account(account("a-1"))),
                    (1, Record::Interaction(interaction("i-1", "a-1"))),
                    (2, Record::Interaction(interaction("i-2", "a-1"))),
                ])
                .await
                .unwrap();
            let at = 1_700_100_000;
            let t = |position, kind, id: &str| Tombstone {
                position,
                kind,
                id: id.into(),
                deleted_at: at,
            };
            let marks = vec![
                t(2, EntityKind::Interaction, "i-1"),
                t(3, EntityKind::Interaction, "i-404"),
                t(4, EntityKind::Account, "a-1"),
            ];
            // A dry run counts and changes nothing.
            let dry = store.mark_deleted(marks.clone(), true).await.unwrap();
            assert_eq!(dry.marked, 1, "{name}");
            let h = store.load_histories(None).await.unwrap();
            assert!(h[0].deleted.is_none(), "{name}");

            let out = store.mark_deleted(marks, false).await.unwrap();
            assert_eq!(out.marked, 1, "{name}");
            let rejected: Vec<(usize, &str, &str)> = out
                .rejected
                .iter()
                .map(|r| (r.position, r.id.as_str(), r.error.field.as_str()))
                .collect();
            assert_eq!(
                rejected,
                vec![(3, "i-404", "id"), (4, "a-1", "entity")],
                "{name}"
            );
            assert!(
                out.rejected[0]
                    .error
                    .reason
                    .contains("no stored interaction")
            );
            let h = store.load_histories(None).await.unwrap();
            let d = h[0].deleted.as_deref().expect("a deleted interaction");
            assert_eq!(d.interactions.len(), 1, "{name}");
            assert_eq!(d.interactions[0].1, at, "{name}");
            assert_eq!(h[0].interactions.len(), 1, "{name}");
            assert_eq!(store.record_counts("a-1").await.unwrap().interactions, 1);

            // The record exported again without a mark is restored.
            store
                .ingest(vec![(0, Record::Interaction(interaction("i-1", "a-1")))])
                .await
                .unwrap();
            let h = store.load_histories(None).await.unwrap();
            assert!(h[0].deleted.is_none(), "{name}");
            assert_eq!(h[0].interactions.len(), 2, "{name}");
        }
    }
}
