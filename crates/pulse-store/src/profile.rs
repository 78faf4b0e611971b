//! Reads behind an account profile: its latest interactions with their
//! sentiment, and the ones still open at a point in time.
//!
//! Interaction bodies are never selected: a profile shows the subject, and
//! the body is free text that stays out of responses and logs.

use pulse_core::time::Ts;
use pulse_core::{Channel, Sentiment};

use crate::{Store, StoreError, on_backend};

/// An interaction as a profile shows it: everything but its body, with the
/// sentiment stored at ingest (`None` when it was not scored).
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionView {
    pub id: String,
    pub contact_id: Option<String>,
    pub channel: Channel,
    pub topic: String,
    pub opened_at: Ts,
    pub first_response_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    pub escalated: bool,
    pub reopened: bool,
    pub csat: Option<i64>,
    pub subject: String,
    pub sentiment_label: Option<Sentiment>,
    pub sentiment_score: Option<f64>,
}

const VIEW_COLS: &str = "id, contact_id, channel, topic, opened_at, first_response_at, \
    resolved_at, escalated, reopened, csat, subject, sentiment_label, sentiment_score";

type ViewRow = (
    String,
    Option<String>,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    bool,
    bool,
    Option<i64>,
    String,
    Option<String>,
    Option<f64>,
);

fn view_of(r: ViewRow) -> Result<InteractionView, StoreError> {
    let corrupt = |e: String| StoreError::corrupt("interactions", &r.0, e);
    let sentiment_label =
        r.11.as_deref()
            .map(str::parse)
            .transpose()
            .map_err(corrupt)?;
    Ok(InteractionView {
        channel: r.2.parse().map_err(corrupt)?,
        sentiment_label,
        id: r.0,
        contact_id: r.1,
        topic: r.3,
        opened_at: r.4,
        first_response_at: r.5,
        resolved_at: r.6,
        escalated: r.7,
        reopened: r.8,
        csat: r.9,
        subject: r.10,
        sentiment_score: r.12,
    })
}

impl Store {
    /// An account's latest `limit` interactions opened at or before `before`,
    /// newest first. One deleted at its source by `before` is left out, as
    /// features leave it out.
    pub async fn recent_interactions(
        &self,
        account_id: &str,
        before: Ts,
        limit: u32,
    ) -> Result<Vec<InteractionView>, StoreError> {
        let sql = format!(
            "SELECT {VIEW_COLS} FROM interactions \
             WHERE account_id = $1 AND opened_at <= $2 \
             AND (deleted_at IS NULL OR deleted_at > $4) \
             ORDER BY opened_at DESC, id DESC LIMIT $3"
        );
        let rows: Vec<ViewRow> = on_backend!(self, p => {
            sqlx::query_as::<_, ViewRow>(&sql)
                .bind(account_id)
                .bind(before)
                .bind(i64::from(limit))
                .bind(before)
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(view_of).collect()
    }

    /// An account's interactions that were open at `before`: opened at or
    /// before it and not resolved by then (unresolved, or resolved later),
    /// and not deleted at its source by then, newest first.
    pub async fn open_interactions(
        &self,
        account_id: &str,
        before: Ts,
    ) -> Result<Vec<InteractionView>, StoreError> {
        let sql = format!(
            "SELECT {VIEW_COLS} FROM interactions \
             WHERE account_id = $1 AND opened_at <= $2 \
             AND (resolved_at IS NULL OR resolved_at > $3) \
             AND (deleted_at IS NULL OR deleted_at > $4) \
             ORDER BY opened_at DESC, id DESC"
        );
        let rows: Vec<ViewRow> = on_backend!(self, p => {
            sqlx::query_as::<_, ViewRow>(&sql)
                .bind(account_id)
                .bind(before)
                .bind(before)
                .bind(before)
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(view_of).collect()
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::{Record, TextScorer};

    use super::*;
    use crate::ingest::tests::{account, interaction};

    /// Negative for text that says "broken", neutral otherwise.
    struct BrokenScorer;

    impl TextScorer for BrokenScorer {
        fn score(&self, text: &str) -> Option<(f64, Sentiment)> {
            Some(if text.contains("broken") {
                (-0.5, Sentiment::Negative)
            } else {
                (0.0, Sentiment::Neutral)
            })
        }
        fn version(&self) -> &str {
            "broken-1"
        }
    }

    #[tokio::test]
    async fn recent_and_open_interactions_filter_by_time() {
        for store in crate::test_stores("profile_interactions").await {
            filters(store).await;
        }
    }

    async fn filters(store: Store) {
        let b = store.backend_name();
        let t = 1_700_000_000;
        let at = |id: &str, account: &str, opened: Ts, resolved: Option<Ts>| {
            let mut i = interaction(id, account);
            i.opened_at = t + opened;
            i.resolved_at = resolved.map(|r| t + r);
            i
        };
        let mut broken = at("i-1", "a-1", 1_000, Some(1_500));
        broken.body = "the export is broken".into();
        broken.contact_id = Some("c-1".into());
        broken.escalated = true;
        let records = vec![
            Record::Account(account("a-1")),
            Record::Account(account("a-2")),
            Record::Contact(pulse_core::Contact {
                deleted_at: None,
                id: "c-1".into(),
                account_id: "a-1".into(),
                name: "Sam".into(),
                persona: pulse_core::Persona::Champion,
                relationship_strength: 3,
                sentiment: Sentiment::Positive,
                active: true,
                observed_at: t,
            }),
            Record::Interaction(broken),
            Record::Interaction(at("i-2", "a-1", 2_000, None)),
            Record::Interaction(at("i-3", "a-1", 3_000, Some(3_500))),
            // Same opening time as i-3; resolved exactly at the cut-off.
            Record::Interaction(at("i-6", "a-1", 3_000, Some(3_600))),
            // After the cut-off, and another account's.
            Record::Interaction(at("i-4", "a-1", 4_000, None)),
            Record::Interaction(at("i-5", "a-2", 2_500, None)),
        ];
        let out = store
            .ingest_scored(
                records.into_iter().enumerate().collect(),
                Some(&BrokenScorer),
            )
            .await
            .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        // Ingested without a scorer: no sentiment.
        store
            .ingest(vec![(0, Record::Interaction(at("i-7", "a-1", 500, None)))])
            .await
            .unwrap();

        let ids = |v: Vec<InteractionView>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
        let cut = t + 3_600;
        let recent = store.recent_interactions("a-1", cut, 10).await.unwrap();
        assert_eq!(
            ids(recent.clone()),
            ["i-6", "i-3", "i-2", "i-1", "i-7"],
            "{b}"
        );
        assert_eq!(
            recent[3],
            InteractionView {
                id: "i-1".into(),
                contact_id: Some("c-1".into()),
                channel: Channel::Ticket,
                topic: "payroll_run".into(),
                opened_at: t + 1_000,
                first_response_at: None,
                resolved_at: Some(t + 1_500),
                escalated: true,
                reopened: false,
                csat: Some(4),
                subject: "Payroll".into(),
                sentiment_label: Some(Sentiment::Negative),
                sentiment_score: Some(-0.5),
            },
            "{b}"
        );
        assert_eq!(
            (recent[4].sentiment_label, recent[4].sentiment_score),
            (None, None),
            "{b}"
        );
        assert_eq!(
            ids(store.recent_interactions("a-1", cut, 2).await.unwrap()),
            ["i-6", "i-3"],
            "{b}"
        );
        assert_eq!(
            ids(store
                .recent_interactions("a-1", t + 1_000, 10)
                .await
                .unwrap()),
            ["i-1", "i-7"],
            "{b}: opened exactly at the cut-off counts"
        );
        assert!(
            store
                .recent_interactions("a-1", t, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .recent_interactions("a-404", cut, 10)
                .await
                .unwrap()
                .is_empty()
        );

        assert_eq!(
            ids(store.open_interactions("a-1", cut).await.unwrap()),
            ["i-2", "i-7"],
            "{b}"
        );
        assert_eq!(
            ids(store.open_interactions("a-1", t + 3_400).await.unwrap()),
            ["i-6", "i-3", "i-2", "i-7"],
            "{b}: resolved after the cut-off was still open"
        );
        assert_eq!(
            ids(store.open_interactions("a-1", t + 1_200).await.unwrap()),
            ["i-1", "i-7"],
            "{b}"
        );
        assert_eq!(
            ids(store.open_interactions("a-2", cut).await.unwrap()),
            ["i-5"],
            "{b}"
        );

        // i-2 deleted at its source at t + 3,000: shown before, not after.
        let mut gone = at("i-2", "a-1", 2_000, None);
        gone.deleted_at = Some(t + 3_000);
        store
            .ingest(vec![(0, Record::Interaction(gone))])
            .await
            .unwrap();
        assert_eq!(
            ids(store.recent_interactions("a-1", cut, 10).await.unwrap()),
            ["i-6", "i-3", "i-1", "i-7"],
            "{b}"
        );
        assert_eq!(
            ids(store.open_interactions("a-1", cut).await.unwrap()),
            ["i-7"],
            "{b}"
        );
        assert_eq!(
            ids(store.open_interactions("a-1", t + 2_999).await.unwrap()),
            ["i-2", "i-7"],
            "{b}: not yet deleted"
        );
    }
}
