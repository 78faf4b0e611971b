//! Model operations: champion/challenger decisions, drift checks and the
//! training-data profile of each model version (migration 0004).
//!
//! Decisions and drift checks are only ever inserted, so the history reads
//! back exactly as it was decided. A profile is written once per model
//! version (a second write of the same version is ignored). The JSON columns
//! are the server's; the store keeps them verbatim.

use pulse_core::time::{Day, Ts};

use crate::{Store, StoreError, on_backend};

/// One champion/challenger decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDecision {
    /// Set by the store when saved.
    pub decision_id: i64,
    pub decided_at: Ts,
    pub kind: String,
    /// What started the training run: `manual`, `scheduled`, `drift`, `cli`.
    pub trigger: String,
    pub challenger_version: String,
    /// The champion it was compared with (`None`: there was none).
    pub champion_version: Option<String>,
    /// `promoted` or `kept`.
    pub outcome: String,
    pub reason: String,
    pub champion_pr_auc: Option<f64>,
    pub challenger_pr_auc: Option<f64>,
    pub champion_ece: Option<f64>,
    pub challenger_ece: Option<f64>,
    /// JSON: the comparison window and both models' metrics.
    pub detail: String,
}

/// One stored drift check.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftCheck {
    /// Set by the store when saved.
    pub check_id: i64,
    pub checked_at: Ts,
    /// The day the scoring population describes.
    pub as_of: Day,
    pub kind: String,
    pub model_version: String,
    /// `none`, `warn` or `critical`.
    pub level: String,
    pub max_psi: f64,
    /// JSON: every feature's PSI and bins.
    pub report: String,
}

type DecisionRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    String,
);

const DECISION_COLS: &str = "decision_id, decided_at, kind, trigger, challenger_version, champion_version, outcome, reason, champion_pr_auc, challenger_pr_auc, champion_ece, challenger_ece, detail";

type DriftRow = (i64, i64, i64, String, String, String, f64, String);

const DRIFT_COLS: &str =
    "check_id, checked_at, as_of_day, kind, model_version, level, max_psi, report";

fn finite(field: &str, v: Option<f64>) -> Result<Option<f64>, StoreError> {
    match v {
        Some(x) if !x.is_finite() => Err(StoreError::Database(sqlx::Error::Encode(
            format!("model_decisions: {field} is {x}, not a finite number").into(),
        ))),
        other => Ok(other),
    }
}

fn decision_of(r: DecisionRow) -> ModelDecision {
    ModelDecision {
        decision_id: r.0,
        decided_at: r.1,
        kind: r.2,
        trigger: r.3,
        challenger_version: r.4,
        champion_version: r.5,
        outcome: r.6,
        reason: r.7,
        champion_pr_auc: r.8,
        challenger_pr_auc: r.9,
        champion_ece: r.10,
        challenger_ece: r.11,
        detail: r.12,
    }
}

fn drift_of(r: DriftRow) -> Result<DriftCheck, StoreError> {
    Ok(DriftCheck {
        check_id: r.0,
        checked_at: r.1,
        as_of: Day::try_from(r.2).map_err(|_| {
            StoreError::corrupt(
                "drift_checks",
                &r.0.to_string(),
                "as_of_day is out of range",
            )
        })?,
        kind: r.3,
        model_version: r.4,
        level: r.5,
        max_psi: r.6,
        report: r.7,
    })
}

impl Store {
    /// Saves a decision; returns its id.
    pub async fn save_decision(&self, d: &ModelDecision) -> Result<i64, StoreError> {
        self.touch();
        let metrics = [
            finite("champion_pr_auc", d.champion_pr_auc)?,
            finite("challenger_pr_auc", d.challenger_pr_auc)?,
            finite("champion_ece", d.champion_ece)?,
            finite("challenger_ece", d.challenger_ece)?,
        ];
        let sql = "INSERT INTO model_decisions (decided_at, kind, trigger, challenger_version, \
            champion_version, outcome, reason, champion_pr_auc, challenger_pr_auc, champion_ece, \
            challenger_ece, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
            RETURNING decision_id";
        let (id,): (i64,) = on_backend!(self, p => {
            sqlx::query_as(sql)
                .bind(d.decided_at)
                .bind(d.kind.as_str())
                .bind(d.trigger.as_str())
                .bind(d.challenger_version.as_str())
                .bind(d.champion_version.as_deref())
                .bind(d.outcome.as_str())
                .bind(d.reason.as_str())
                .bind(metrics[0])
                .bind(metrics[1])
                .bind(metrics[2])
                .bind(metrics[3])
                .bind(d.detail.as_str())
                .fetch_one(p)
                .await?
        });
        Ok(id)
    }

    /// The latest `limit` decisions, newest first, of one kind or all.
    pub async fn decisions(
        &self,
        kind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ModelDecision>, StoreError> {
        let sql = format!(
            "SELECT {DECISION_COLS} FROM model_decisions \
             WHERE ($1 = '' OR kind = $1) ORDER BY decided_at DESC, decision_id DESC LIMIT $2"
        );
        let rows: Vec<DecisionRow> = on_backend!(self, p => {
            sqlx::query_as::<_, DecisionRow>(&sql)
                .bind(kind.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?
        });
        Ok(rows.into_iter().map(decision_of).collect())
    }

    /// Saves a drift check; returns its id.
    pub async fn save_drift_check(&self, c: &DriftCheck) -> Result<i64, StoreError> {
        finite("max_psi", Some(c.max_psi))?;
        let sql = "INSERT INTO drift_checks (checked_at, as_of_day, kind, model_version, level, \
            max_psi, report) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING check_id";
        let (id,): (i64,) = on_backend!(self, p => {
            sqlx::query_as(sql)
                .bind(c.checked_at)
                .bind(i64::from(c.as_of))
                .bind(c.kind.as_str())
                .bind(c.model_version.as_str())
                .bind(c.level.as_str())
                .bind(c.max_psi)
                .bind(c.report.as_str())
                .fetch_one(p)
                .await?
        });
        Ok(id)
    }

    /// The latest `limit` drift checks, newest first.
    pub async fn drift_checks(&self, limit: u32) -> Result<Vec<DriftCheck>, StoreError> {
        let sql = format!(
            "SELECT {DRIFT_COLS} FROM drift_checks ORDER BY checked_at DESC, check_id DESC LIMIT $1"
        );
        let rows: Vec<DriftRow> = on_backend!(self, p => {
            sqlx::query_as::<_, DriftRow>(&sql).bind(i64::from(limit)).fetch_all(p).await?
        });
        rows.into_iter().map(drift_of).collect()
    }

    /// Stores the training-data profile of a model version (kept if one exists).
    pub async fn save_model_profile(
        &self,
        version: &str,
        kind: &str,
        created_at: Ts,
        profile: &str,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO model_profiles (version, kind, created_at, profile) \
            VALUES ($1, $2, $3, $4) ON CONFLICT (version) DO NOTHING";
        on_backend!(self, p => {
            sqlx::query(sql)
                .bind(version)
                .bind(kind)
                .bind(created_at)
                .bind(profile)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// The training-data profile of a model version, if one was stored.
    pub async fn model_profile(&self, version: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_backend!(self, p => {
            sqlx::query_as("SELECT profile FROM model_profiles WHERE version = $1")
                .bind(version)
                .fetch_optional(p)
                .await?
        });
        Ok(row.map(|r| r.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(kind: &str, at: Ts, outcome: &str) -> ModelDecision {
        ModelDecision {
            decision_id: 0,
            decided_at: at,
            kind: kind.into(),
            trigger: "scheduled".into(),
            challenger_version: format!("{kind}-v2"),
            champion_version: Some(format!("{kind}-v1")),
            outcome: outcome.into(),
            reason: "the challenger wins".into(),
            champion_pr_auc: Some(0.21),
            challenger_pr_auc: Some(0.25),
            champion_ece: Some(0.02),
            challenger_ece: None,
            detail: "{}".into(),
        }
    }

    #[tokio::test]
    async fn decisions_drift_checks_and_profiles_round_trip() {
        for store in crate::test_stores("model_ops").await {
            let a = decision("churn", 100, "promoted");
            let b = decision("expansion", 200, "kept");
            let ia = store.save_decision(&a).await.unwrap();
            let ib = store.save_decision(&b).await.unwrap();
            let all = store.decisions(None, 10).await.unwrap();
            // Other tests may share a PostgreSQL database: look at ours.
            let ours: Vec<_> = all
                .iter()
                .filter(|d| d.decision_id == ia || d.decision_id == ib)
                .collect();
            assert_eq!(ours.len(), 2);
            assert_eq!(ours[0].decision_id, ib, "newest first");
            assert_eq!(
                ModelDecision {
                    decision_id: ia,
                    ..a.clone()
                },
                *ours[1]
            );
            let churn = store.decisions(Some("churn"), 100).await.unwrap();
            assert!(churn.iter().all(|d| d.kind == "churn"));
            assert!(churn.iter().any(|d| d.decision_id == ia));
            let mut nan = a.clone();
            nan.champion_ece = Some(f64::NAN);
            assert!(store.save_decision(&nan).await.is_err());

            let c = DriftCheck {
                check_id: 0,
                checked_at: 300,
                as_of: 20_000,
                kind: "churn".into(),
                model_version: "churn-v1".into(),
                level: "warn".into(),
                max_psi: 0.13,
                report: "{\"features\":[]}".into(),
            };
            let ic = store.save_drift_check(&c).await.unwrap();
            let checks = store.drift_checks(50).await.unwrap();
            let got = checks.iter().find(|d| d.check_id == ic).unwrap();
            assert_eq!(*got, DriftCheck { check_id: ic, ..c });

            let v = format!("churn-test-{ic}");
            store
                .save_model_profile(&v, "churn", 1, "{\"a\":1}")
                .await
                .unwrap();
            store
                .save_model_profile(&v, "churn", 2, "{\"a\":2}")
                .await
                .unwrap();
            assert_eq!(
                store.model_profile(&v).await.unwrap().as_deref(),
                Some("{\"a\":1}")
            );
            assert_eq!(store.model_profile("nope").await.unwrap(), None);
        }
    }
}
