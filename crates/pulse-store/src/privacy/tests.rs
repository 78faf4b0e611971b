//! Erasure and retention on every backend: after a forget no stored row
//! holds an erased value, and what the models need is kept.

use pulse_core::{Record, time::parse_ts};

use crate::{ListRow, ListWrite, NewListRun, NewScoreRun, Store, StoredScore};

const ACCOUNT: &str = "Zebulon Quartz Holdings";
const ADA: &str = "Ada \"Countess\" Lovelace";
const SECRET: &str = "Ada's payroll for Zebulon is wrong again";

fn fields(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn record(kind: pulse_core::EntityKind, pairs: &[(&str, &str)]) -> Record {
    Record::from_fields(kind, &fields(pairs)).unwrap()
}

async fn seed(store: &Store) {
    use pulse_core::EntityKind::*;
    let recs = vec![
        record(
            Account,
            &[
                ("id", "a-1"),
                ("name", ACCOUNT),
                ("segment", "smb"),
                ("plan", "core"),
                ("mrr", "100"),
                ("seats", "5"),
                ("start_date", "2025-01-01"),
            ],
        ),
        record(
            Account,
            &[
                ("id", "a-2"),
                ("name", "Other Co"),
                ("segment", "smb"),
                ("plan", "core"),
                ("mrr", "100"),
                ("seats", "5"),
                ("start_date", "2025-01-01"),
            ],
        ),
        record(
            Contact,
            &[
                ("id", "c-1"),
                ("account_id", "a-1"),
                ("name", ADA),
                ("persona", "champion"),
                ("relationship_strength", "3"),
                ("observed_at", "2026-01-01T00:00:00Z"),
            ],
        ),
        record(
            Contact,
            &[
                ("id", "c-1"),
                ("account_id", "a-1"),
                ("name", ADA),
                ("persona", "champion"),
                ("relationship_strength", "2"),
                ("observed_at", "2026-02-01T00:00:00Z"),
            ],
        ),
        record(
            Contact,
            &[
                ("id", "c-2"),
                ("account_id", "a-2"),
                ("name", "Bob Other"),
                ("persona", "admin"),
                ("relationship_strength", "2"),
                ("observed_at", "2026-01-01T00:00:00Z"),
            ],
        ),
        record(
            Interaction,
            &[
                ("id", "i-1"),
                ("account_id", "a-1"),
                ("contact_id", "c-1"),
                ("channel", "ticket"),
                ("opened_at", "2026-01-05T10:00:00Z"),
                ("csat", "2"),
                ("subject", "Payroll"),
                ("body", SECRET),
            ],
        ),
        record(
            Interaction,
            &[
                ("id", "i-2"),
                ("account_id", "a-2"),
                ("contact_id", "c-2"),
                ("channel", "ticket"),
                ("opened_at", "2026-01-05T10:00:00Z"),
                ("subject", "Hi"),
                ("body", "Bob's question"),
            ],
        ),
        record(
            Interaction,
            &[
                ("id", "i-3"),
                ("account_id", "a-2"),
                ("channel", "chat"),
                ("opened_at", "2026-03-05T10:00:00Z"),
                ("subject", "Recent"),
                ("body", "recent text"),
            ],
        ),
        record(
            Survey,
            &[
                ("id", "s-1"),
                ("account_id", "a-1"),
                ("contact_id", "c-1"),
                ("kind", "nps"),
                ("score", "3"),
                ("comment", SECRET),
                ("responded_at", "2026-01-06T10:00:00Z"),
            ],
        ),
        record(
            Operational,
            &[
                ("id", "o-1"),
                ("account_id", "a-1"),
                ("kind", "tax_filing_error"),
                ("occurred_at", "2026-01-07T10:00:00Z"),
                ("detail", SECRET),
            ],
        ),
        record(
            Outreach,
            &[
                ("id", "r-1"),
                ("account_id", "a-1"),
                ("play", "Call"),
                ("contacted_at", "2026-01-08T10:00:00Z"),
                ("note", SECRET),
            ],
        ),
    ];
    let scorer = crate::ingest::tests::WordScorer;
    let out = store
        .ingest_scored(recs.into_iter().enumerate().collect(), Some(&scorer))
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let name_json = |n: &str| n.replace('"', "\\\"");
    let run = store
        .save_score_run(
            &NewScoreRun {
                as_of: 20_500,
                created_at: 1,
                churn_version: "churn-v1".into(),
                expansion_version: None,
                trigger: "manual".into(),
            },
            &[StoredScore {
                account_id: "a-1".into(),
                churn_probability: 0.4,
                health: 40.0,
                band: "red".into(),
                quadrant: "q".into(),
                expansion_probability: None,
                arr: 1200.0,
                arr_at_risk: 480.0,
                explanation: format!("{{\"champion\":\"{}\"}}", name_json(ADA)),
            }],
        )
        .await
        .unwrap();
    store
        .save_list_run(
            &NewListRun {
                week: "2026-W02".into(),
                week_start: 20_459,
                score_run_id: run.run_id,
                as_of: 20_500,
                churn_version: "churn-v1".into(),
                expansion_version: None,
                params: "{}".into(),
                trigger: "manual".into(),
                created_at: 1,
            },
            &[ListRow {
                kind: "risk".into(),
                rank: 1,
                account_id: "a-1".into(),
                owner: "Sam".into(),
                segment: "smb".into(),
                band: "red".into(),
                value: 0.4,
                row_json: format!(
                    "{{\"name\":\"{}\",\"why\":\"{} left\"}}",
                    name_json(ACCOUNT),
                    name_json(ADA)
                ),
            }],
            ListWrite::Replace,
        )
        .await
        .unwrap();
}

/// Every text value of every table, as text.
async fn all_text(store: &Store) -> String {
    let tables = [
        "accounts",
        "contacts",
        "interactions",
        "survey_responses",
        "operational_events",
        "outreach",
        "list_rows",
        "account_scores",
        "audit_log",
        "join_keys",
    ];
    let mut out = String::new();
    for t in tables {
        let sql = format!("SELECT * FROM {t}");
        crate::on_backend!(store, p => {
            use sqlx::{Column, Row};
            for row in sqlx::query(&sql).fetch_all(p).await.unwrap() {
                for (i, c) in row.columns().iter().enumerate() {
                    if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                        out.push_str(&format!("{t}.{}={v}\n", c.name()));
                    }
                }
            }
        });
    }
    out
}

#[tokio::test]
async fn forgetting_an_account_leaves_no_erased_value_and_keeps_the_aggregates() {
    for store in crate::test_stores("privacy_account").await {
        let b = store.backend_name();
        seed(&store).await;
        let key = |v: &str, id: &str| (v.to_string(), id.to_string(), "a-1".to_string());
        store
            .save_join_keys(
                "contact",
                "email",
                vec![key("ada.lovelace@zq.example", "c-1")],
            )
            .await
            .unwrap();
        store
            .save_join_keys("account", "domain", vec![key("zq.example", "a-1")])
            .await
            .unwrap();
        let before = all_text(&store).await;
        assert!(before.contains(SECRET) && before.contains(ACCOUNT), "{b}");
        assert!(before.contains("ada.lovelace@zq.example"), "{b}");

        let e = store.forget_account("a-1", 42).await.unwrap().unwrap();
        assert_eq!(
            (
                e.accounts,
                e.contacts,
                e.interactions,
                e.surveys,
                e.operational,
                e.outreach
            ),
            (1, 2, 1, 1, 1, 1),
            "{b}"
        );
        assert_eq!(e.copies, 3, "{b}: the list row twice, the explanation once");
        assert_eq!(e.join_keys, 2, "{b}");
        let after = all_text(&store).await;
        for erased in [
            ACCOUNT,
            "Countess",
            SECRET,
            "Payroll",
            "ada.lovelace@zq.example",
        ] {
            assert!(
                !after.contains(erased),
                "{b}: '{erased}' is still stored:\n{after}"
            );
        }
        // Another account is untouched.
        assert!(
            after.contains("Bob's question") && after.contains("Bob Other"),
            "{b}"
        );
        // What the models read stays: the interaction, its CSAT and sentiment.
        let h = store.load_histories(None).await.unwrap();
        let a1 = h.iter().find(|h| h.account.id == "a-1").unwrap();
        assert_eq!(a1.account.name, super::ERASED_NAME, "{b}");
        assert_eq!(a1.interactions.len(), 1, "{b}");
        assert_eq!(a1.contacts.len(), 2, "{b}");
        assert_eq!(a1.surveys.len(), 1, "{b}");
        assert!(a1.interactions[0].sentiment.is_some(), "{b}");

        let log = store.audit_log(10).await.unwrap();
        assert_eq!(log.len(), 1, "{b}");
        assert_eq!(
            (log[0].at, log[0].action.as_str(), log[0].subject.as_str()),
            (42, "forget_account", "a-1"),
            "{b}"
        );
        // Forgetting again changes nothing, and is recorded again.
        let again = store.forget_account("a-1", 43).await.unwrap().unwrap();
        assert_eq!(again, super::Erased::default(), "{b}");
        assert_eq!(store.forget_account("a-9", 44).await.unwrap(), None, "{b}");
        assert_eq!(store.audit_log(10).await.unwrap().len(), 2, "{b}");
    }
}

#[tokio::test]
async fn forgetting_a_contact_and_dropping_old_text() {
    for store in crate::test_stores("privacy_contact").await {
        let b = store.backend_name();
        seed(&store).await;
        let e = store.forget_contact("c-1", 50).await.unwrap().unwrap();
        assert_eq!((e.contacts, e.interactions, e.surveys), (2, 1, 1), "{b}");
        assert_eq!(e.copies, 2, "{b}: the list row and the explanation");
        let after = all_text(&store).await;
        assert!(!after.contains("Countess"), "{b}");
        // The account's own name and its operational detail are not the
        // contact's: kept.
        assert!(after.contains(ACCOUNT), "{b}");
        assert!(
            after.contains("operational_events.detail=Ada's payroll"),
            "{b}"
        );
        assert_eq!(store.forget_contact("c-9", 51).await.unwrap(), None, "{b}");

        // Retention: text before March whose sentiment is stored goes.
        let cut = parse_ts("t", "2026-03-01T00:00:00Z").unwrap();
        let r = store.drop_old_text(cut, 60).await.unwrap();
        assert_eq!(
            (r.interactions, r.surveys),
            (1, 0),
            "{b}: i-2 (i-1 already erased)"
        );
        let after = all_text(&store).await;
        assert!(!after.contains("Bob's question"), "{b}");
        assert!(after.contains("recent text"), "{b}");
        let log = store.audit_log(10).await.unwrap();
        assert_eq!(log[0].action, "text_retention", "{b}");
        assert_eq!(log[0].subject, "2026-03-01T00:00:00Z", "{b}");
        assert_eq!(log[1].action, "forget_contact", "{b}");
        assert!(!log.iter().any(|l| l.detail.contains("Ada")), "{b}");
    }
}
