//! Rescoring stored text: pages of interaction and survey-comment text in id
//! order, and writing their sentiment columns back (`pulse sentiment backfill`).

use pulse_core::{Sentiment, SurveyKind};

use crate::ingest::subject_and_body;
use crate::{Store, StoreError, on_backend};

/// Which stored text a page reads or a score belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSource {
    /// Interaction subject and body, scored as one text.
    Interactions,
    /// Survey response comments.
    SurveyComments,
}

impl TextSource {
    fn table(self) -> &'static str {
        match self {
            TextSource::Interactions => "interactions",
            TextSource::SurveyComments => "survey_responses",
        }
    }
}

/// A stored text by its record id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredText {
    pub id: String,
    pub text: String,
}

/// A stored text with the survey score given next to it, for weak labels.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedStoredText {
    pub text: String,
    pub kind: SurveyKind,
    pub score: i64,
}

impl Store {
    /// Every non-blank text that has a survey score beside it: interactions
    /// with a CSAT (subject and body) and survey comments with their CSAT or
    /// NPS score, interactions first, each in id order.
    pub async fn rated_texts(&self) -> Result<Vec<RatedStoredText>, StoreError> {
        let interactions = "SELECT subject, body, csat FROM interactions \
                            WHERE csat IS NOT NULL ORDER BY id";
        let rows: Vec<(String, String, i64)> =
            on_backend!(self, p => sqlx::query_as(interactions).fetch_all(p).await?);
        let mut out: Vec<RatedStoredText> = rows
            .into_iter()
            .map(|(subject, body, score)| RatedStoredText {
                text: subject_and_body(&subject, &body),
                kind: SurveyKind::Csat,
                score,
            })
            .collect();
        let surveys = "SELECT id, kind, score, comment FROM survey_responses ORDER BY id";
        let rows: Vec<(String, String, i64, String)> =
            on_backend!(self, p => sqlx::query_as(surveys).fetch_all(p).await?);
        for (id, kind, score, comment) in rows {
            let kind = kind
                .parse()
                .map_err(|e| StoreError::corrupt("survey_responses", &id, e))?;
            out.push(RatedStoredText {
                text: comment,
                kind,
                score,
            });
        }
        out.retain(|t| !t.text.trim().is_empty());
        Ok(out)
    }

    /// How many records of `source` there are.
    pub async fn text_count(&self, source: TextSource) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", source.table());
        let (n,): (i64,) = on_backend!(self, p => sqlx::query_as(&sql).fetch_one(p).await?);
        Ok(n.max(0) as u64)
    }

    /// Up to `limit` texts of `source` with ids after `after` (all when
    /// `None`), in id order; the last id is the next page's `after`.
    pub async fn texts_after(
        &self,
        source: TextSource,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredText>, StoreError> {
        let columns = match source {
            TextSource::Interactions => "id, subject, body",
            TextSource::SurveyComments => "id, CAST('' AS TEXT), comment",
        };
        let sql = format!(
            "SELECT {columns} FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
            source.table()
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, String)> = on_backend!(self, p => sqlx::query_as(&sql)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(p)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, subject, body)| StoredText {
                text: subject_and_body(&subject, &body),
                id,
            })
            .collect())
    }

    /// Writes the sentiment columns of the records `scores` names, in one
    /// transaction: a score and label with `model`, or NULL in all three for
    /// text with nothing to score. Returns the number of rows updated.
    pub async fn set_sentiment(
        &self,
        source: TextSource,
        scores: &[(String, Option<(f64, Sentiment)>)],
        model: &str,
    ) -> Result<u64, StoreError> {
        self.touch();
        let sql = format!(
            "UPDATE {} SET sentiment_score = $1, sentiment_label = $2, sentiment_model = $3 \
             WHERE id = $4",
            source.table()
        );
        let mut updated = 0;
        on_backend!(self, p => {
            let mut tx = p.begin().await?;
            for (id, score) in scores {
                let r = sqlx::query(&sql)
                    .bind(score.map(|s| s.0))
                    .bind(score.map(|s| s.1.as_str()))
                    .bind(score.map(|_| model))
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                updated += r.rows_affected();
            }
            tx.commit().await?;
        });
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::{Record, SurveyResponse};

    use super::*;
    use crate::ingest::tests::{account, interaction};

    #[tokio::test]
    async fn pages_and_rescoring_round_trip() {
        for store in crate::test_stores("sentiment_backfill").await {
            round_trip(store).await;
        }
    }

    async fn round_trip(store: Store) {
        let mut records = vec![Record::Account(account("a-1"))];
        for i in 0..5 {
            records.push(Record::Interaction(interaction(&format!("i-{i}"), "a-1")));
        }
        records.push(Record::Survey(SurveyResponse {
            deleted_at: None,
            id: "s-1".into(),
            account_id: "a-1".into(),
            contact_id: None,
            kind: SurveyKind::Nps,
            score: 3,
            comment: "slow".into(),
            responded_at: 1_700_000_000,
        }));
        let out = store
            .ingest(records.into_iter().enumerate().collect())
            .await
            .unwrap();
        assert!(out.rejected.is_empty());
        assert_eq!(store.text_count(TextSource::Interactions).await.unwrap(), 5);
        let rated = store.rated_texts().await.unwrap();
        assert_eq!(rated.len(), 6);
        assert_eq!(
            rated[5],
            RatedStoredText {
                text: "slow".into(),
                kind: SurveyKind::Nps,
                score: 3
            }
        );
        assert_eq!((rated[0].kind, rated[0].score), (SurveyKind::Csat, 4));

        let first = store
            .texts_after(TextSource::Interactions, None, 3)
            .await
            .unwrap();
        let ids: Vec<&str> = first.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["i-0", "i-1", "i-2"]);
        assert_eq!(first[0].text, "Payroll. Payroll did not run");
        let rest = store
            .texts_after(TextSource::Interactions, Some("i-2"), 3)
            .await
            .unwrap();
        assert_eq!(rest.len(), 2);
        let comments = store
            .texts_after(TextSource::SurveyComments, None, 10)
            .await
            .unwrap();
        assert_eq!(
            comments,
            [StoredText {
                id: "s-1".into(),
                text: "slow".into()
            }]
        );

        let scores = vec![
            ("i-0".to_string(), Some((-0.5, Sentiment::Negative))),
            ("i-1".to_string(), None),
        ];
        let n = store
            .set_sentiment(TextSource::Interactions, &scores, "m-1")
            .await
            .unwrap();
        assert_eq!(n, 2);
        let sql = "SELECT id, sentiment_score, sentiment_label, sentiment_model FROM interactions \
                   WHERE id IN ('i-0', 'i-1') ORDER BY id";
        type Row = (String, Option<f64>, Option<String>, Option<String>);
        let rows: Vec<Row> =
            on_backend!(store, p => sqlx::query_as(sql).fetch_all(p).await.unwrap());
        assert_eq!(
            rows,
            [
                (
                    "i-0".into(),
                    Some(-0.5),
                    Some("negative".into()),
                    Some("m-1".into())
                ),
                ("i-1".into(), None, None, None),
            ]
        );
    }
}
