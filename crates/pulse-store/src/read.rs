//! Reading entities back: accounts, their current contacts, record counts,
//! and the relationship map (each current contact with the sentiment of what
//! they last wrote).

use std::collections::HashMap;

use pulse_core::time::{Day, Ts};
use pulse_core::{Account, ColumnSource, Columns, Contact, Persona, Sentiment};

use crate::history::Cols;
use crate::ingest::Row;
use crate::{Store, StoreError, on_backend};

/// How many records of each kind an account has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// Distinct contacts (not observations).
    pub contacts: u64,
    pub interactions: u64,
    pub usage: u64,
    pub subscription_events: u64,
    pub survey_responses: u64,
    pub operational_events: u64,
    pub outreach: u64,
}

/// Filters for listing accounts; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub segment: Option<String>,
    pub owner: Option<String>,
    /// Only ids after this one (keyset pagination).
    pub after_id: Option<String>,
    pub limit: usize,
}

/// The model sentiment of one scored interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredInteraction {
    pub interaction_id: String,
    pub opened_at: Ts,
    pub label: Sentiment,
    /// In [-1, 1].
    pub score: f64,
    /// The sentiment model version that scored it.
    pub model: String,
}

/// One current contact of an account with their relationship and sentiment:
/// the sentiment recorded on the contact (by the CSM or the CRM) and that of
/// the latest scored interaction they opened.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRelationship {
    /// The contact's latest observation.
    pub contact: Contact,
    /// Their latest interaction with a sentiment score, if any.
    pub latest_interaction: Option<ScoredInteraction>,
}

/// Executive sponsors first, then champions, admins, billing, end users.
fn persona_rank(p: Persona) -> u8 {
    match p {
        Persona::ExecutiveSponsor => 0,
        Persona::Champion => 1,
        Persona::Admin => 2,
        Persona::Billing => 3,
        Persona::EndUser => 4,
    }
}

/// An entity's stored columns as a `SELECT` list, each name prefixed with
/// `prefix` (a table alias and a dot, or nothing).
pub(crate) fn select_list<T: Columns>(prefix: &str) -> String {
    let cols: Vec<String> = T::STORED_COLUMNS
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect();
    cols.join(", ")
}

/// A result row of [`select_list`], as the entity it holds. An unknown
/// enumeration name makes it a corrupt row of the entity's table, named by
/// its first column.
pub(crate) fn entity_of<T: Columns + Row>(row: &impl Cols) -> Result<T, StoreError> {
    T::read_columns(&mut RowColumns {
        row,
        table: T::TABLE,
        next: 0,
    })
}

/// The columns of a result row, handed out in order.
struct RowColumns<'r, R> {
    row: &'r R,
    table: &'static str,
    next: usize,
}

impl<R> RowColumns<'_, R> {
    fn next(&mut self) -> usize {
        self.next += 1;
        self.next - 1
    }
}

impl<R: Cols> ColumnSource for RowColumns<'_, R> {
    type Error = StoreError;
    fn text(&mut self) -> Result<String, StoreError> {
        let i = self.next();
        self.row.text(i).map(str::to_owned)
    }
    fn opt_text(&mut self) -> Result<Option<String>, StoreError> {
        let i = self.next();
        Ok(self.row.opt_text(i)?.map(str::to_owned))
    }
    fn int(&mut self) -> Result<i64, StoreError> {
        let i = self.next();
        self.row.int(i)
    }
    fn opt_int(&mut self) -> Result<Option<i64>, StoreError> {
        let i = self.next();
        self.row.opt_int(i)
    }
    fn real(&mut self) -> Result<f64, StoreError> {
        let i = self.next();
        self.row.real(i)
    }
    fn bool(&mut self) -> Result<bool, StoreError> {
        let i = self.next();
        self.row.boolean(i)
    }
    fn invalid(&mut self, reason: String) -> StoreError {
        let id = self.row.text(0).unwrap_or_default();
        StoreError::corrupt(self.table, id, reason)
    }
}

impl Store {
    /// One account, or `None` if there is no account with that id.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!(
            "SELECT {} FROM accounts WHERE id = $1",
            select_list::<Account>("")
        );
        Ok(on_backend!(self, p => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(p).await?;
            row.map(|r| entity_of(&r)).transpose()?
        }))
    }

    /// Accounts in id order.
    pub async fn accounts(&self, filter: &AccountFilter) -> Result<Vec<Account>, StoreError> {
        let mut sql = format!(
            "SELECT {} FROM accounts WHERE 1 = 1",
            select_list::<Account>("")
        );
        let mut binds: Vec<&str> = Vec::new();
        for (col, v) in [
            ("segment", filter.segment.as_deref()),
            ("owner", filter.owner.as_deref()),
        ] {
            if let Some(v) = v {
                binds.push(v);
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        }
        if let Some(after) = filter.after_id.as_deref() {
            binds.push(after);
            sql.push_str(&format!(" AND id > ${}", binds.len()));
        }
        sql.push_str(" ORDER BY id");
        if filter.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", filter.limit));
        }
        on_backend!(self, p => {
            let mut q = sqlx::query(&sql);
            for b in &binds {
                q = q.bind(*b);
            }
            let rows = q.fetch_all(p).await?;
            rows.iter().map(entity_of).collect()
        })
    }

    /// Accounts whose id is `query` or whose name contains it, ignoring
    /// case: the exact id first, then by name; at most `limit`.
    pub async fn search_accounts(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        let q = query.trim().to_lowercase();
        let mut like = String::with_capacity(q.len() + 2);
        like.push('%');
        for c in q.chars() {
            if matches!(c, '%' | '_' | '\\') {
                like.push('\\');
            }
            like.push(c);
        }
        like.push('%');
        let sql = format!(
            "SELECT {} FROM accounts WHERE LOWER(id) = $1 OR LOWER(id) LIKE $2 ESCAPE '\\' OR LOWER(name) LIKE $2 ESCAPE '\\' \
             ORDER BY CASE WHEN LOWER(id) = $1 THEN 0 ELSE 1 END, name, id LIMIT {limit}",
            select_list::<Account>("")
        );
        on_backend!(self, p => {
            let rows = sqlx::query(&sql).bind(&q).bind(&like).fetch_all(p).await?;
            rows.iter().map(entity_of).collect()
        })
    }

    /// The latest observation of every contact of an account, by id.
    pub async fn current_contacts(&self, account_id: &str) -> Result<Vec<Contact>, StoreError> {
        let sql = format!(
            "SELECT {} FROM contacts c \
             JOIN (SELECT id, MAX(observed_at) AS m FROM contacts WHERE account_id = $1 GROUP BY id) l \
             ON c.id = l.id AND c.observed_at = l.m \
             ORDER BY c.id",
            select_list::<Contact>("c.")
        );
        on_backend!(self, p => {
            let rows = sqlx::query(&sql).bind(account_id).fetch_all(p).await?;
            rows.iter().map(entity_of).collect()
        })
    }

    /// The relationship map of an account: every current contact (latest
    /// observation, active or not) with the latest scored interaction they
    /// opened, executive sponsors first, then champions, admins, billing and
    /// end users, by id within a persona.
    pub async fn persona_map(
        &self,
        account_id: &str,
    ) -> Result<Vec<ContactRelationship>, StoreError> {
        let contacts = self.current_contacts(account_id).await?;
        // Newest first per contact; the first row of each contact wins.
        let sql = "SELECT contact_id, id, opened_at, sentiment_score, sentiment_label, \
                   sentiment_model FROM interactions \
                   WHERE account_id = $1 AND contact_id IS NOT NULL \
                   AND sentiment_score IS NOT NULL AND sentiment_label IS NOT NULL \
                   ORDER BY contact_id, opened_at DESC, id DESC";
        type Row = (String, String, i64, f64, String, Option<String>);
        let rows: Vec<Row> = on_backend!(self, p => {
            sqlx::query_as::<_, Row>(sql).bind(account_id).fetch_all(p).await?
        });
        let mut latest: HashMap<String, ScoredInteraction> = HashMap::new();
        for (contact_id, id, opened_at, score, label, model) in rows {
            if latest.contains_key(&contact_id) {
                continue;
            }
            let label = label
                .parse()
                .map_err(|e| StoreError::corrupt("interactions", &id, e))?;
            latest.insert(
                contact_id,
                ScoredInteraction {
                    interaction_id: id,
                    opened_at,
                    label,
                    score,
                    model: model.unwrap_or_default(),
                },
            );
        }
        let mut out: Vec<ContactRelationship> = contacts
            .into_iter()
            .map(|c| ContactRelationship {
                latest_interaction: latest.remove(&c.id),
                contact: c,
            })
            .collect();
        out.sort_by(|a, b| {
            (persona_rank(a.contact.persona), &a.contact.id)
                .cmp(&(persona_rank(b.contact.persona), &b.contact.id))
        });
        Ok(out)
    }

    /// Record counts of one account; records deleted at their source are
    /// left out, as features leave them out from their deletion.
    pub async fn record_counts(&self, account_id: &str) -> Result<RecordCounts, StoreError> {
        let sql = "SELECT \
            (SELECT COUNT(DISTINCT id) FROM contacts WHERE account_id = $1 AND deleted_at IS NULL), \
            (SELECT COUNT(*) FROM interactions WHERE account_id = $1 AND deleted_at IS NULL), \
            (SELECT COUNT(*) FROM usage WHERE account_id = $1), \
            (SELECT COUNT(*) FROM subscription_events WHERE account_id = $1 AND deleted_at IS NULL), \
            (SELECT COUNT(*) FROM survey_responses WHERE account_id = $1 AND deleted_at IS NULL), \
            (SELECT COUNT(*) FROM operational_events WHERE account_id = $1 AND deleted_at IS NULL), \
            (SELECT COUNT(*) FROM outreach WHERE account_id = $1)";
        type Counts = (i64, i64, i64, i64, i64, i64, i64);
        let c: Counts = on_backend!(self, p => {
            sqlx::query_as::<_, Counts>(sql).bind(account_id).fetch_one(p).await?
        });
        Ok(RecordCounts {
            contacts: c.0 as u64,
            interactions: c.1 as u64,
            usage: c.2 as u64,
            subscription_events: c.3 as u64,
            survey_responses: c.4 as u64,
            operational_events: c.5 as u64,
            outreach: c.6 as u64,
        })
    }

    /// The first day of the data: the earliest account start, or `None`
    /// with no accounts. Nothing can be scored before it.
    pub async fn first_data_day(&self) -> Result<Option<Day>, StoreError> {
        let sql = "SELECT MIN(start_day) FROM accounts";
        let (d,): (Option<i64>,) =
            on_backend!(self, p => sqlx::query_as::<_, (Option<i64>,)>(sql).fetch_one(p).await?);
        Ok(d.map(|d| d as Day))
    }

    /// Rows per table, for status output and tests.
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut out = Vec::new();
        for t in [
            "accounts",
            "contacts",
            "interactions",
            "usage",
            "subscription_events",
            "survey_responses",
            "operational_events",
            "outreach",
        ] {
            let sql = format!("SELECT COUNT(*) FROM {t}");
            let (n,): (i64,) =
                on_backend!(self, p => sqlx::query_as::<_, (i64,)>(&sql).fetch_one(p).await?);
            out.push((t, n as u64));
        }
        Ok(out)
    }

    /// Which of `ids` are stored accounts.
    pub async fn accounts_exist(&self, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id FROM accounts WHERE id IN ({})",
            self.params().list(ids.len())
        );
        let rows: Vec<(String,)> = on_backend!(self, p => {
            let mut q = sqlx::query_as::<_, (String,)>(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(p).await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::{Contact, Persona, Record, Sentiment};

    use super::*;
    use crate::TextSource;
    use crate::ingest::tests::{account, interaction};

    fn contact(id: &str, persona: Persona, sentiment: Sentiment, at: Ts) -> Record {
        Record::Contact(Contact {
            deleted_at: None,
            id: id.into(),
            account_id: "a-1".into(),
            name: format!("Person {id}"),
            persona,
            relationship_strength: 3,
            sentiment,
            active: true,
            observed_at: at,
        })
    }

    fn by(id: &str, contact: &str, opened_at: Ts) -> Record {
        let mut i = interaction(id, "a-1");
        i.contact_id = Some(contact.into());
        i.opened_at = opened_at;
        Record::Interaction(i)
    }

    #[tokio::test]
    async fn search_finds_an_id_or_a_part_of_a_name_ignoring_case() {
        for store in crate::test_stores("search").await {
            let mut records = Vec::new();
            for (id, name) in [
                ("a-1", "Acme Payroll"),
                ("a-2", "Northwind 50% Club"),
                ("b-7", "acme_west"),
                ("A-10", "Zed"),
            ] {
                let mut a = account(id);
                a.name = name.into();
                records.push(Record::Account(a));
            }
            let out = store
                .ingest(records.into_iter().enumerate().collect())
                .await
                .unwrap();
            assert!(out.rejected.is_empty(), "{:?}", out.rejected);
            let ids = |v: Vec<Account>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
            let b = store.backend_name();
            // The exact id first, then by name.
            assert_eq!(
                ids(store.search_accounts("a-1", 10).await.unwrap()),
                ["a-1", "A-10"],
                "{b}"
            );
            assert_eq!(
                ids(store.search_accounts("ACME", 10).await.unwrap()),
                ["a-1", "b-7"],
                "{b}"
            );
            // LIKE's wildcards are literal characters.
            assert_eq!(
                ids(store.search_accounts("50%", 10).await.unwrap()),
                ["a-2"],
                "{b}"
            );
            assert_eq!(
                ids(store.search_accounts("e_w", 10).await.unwrap()),
                ["b-7"],
                "{b}"
            );
            assert_eq!(store.search_accounts("acme", 1).await.unwrap().len(), 1);
            assert!(
                store
                    .search_accounts("nothing", 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    }

    #[tokio::test]
    async fn accounts_and_contacts_read_back_as_written() {
        for store in crate::test_stores("read_back").await {
            reads_back(store).await;
        }
    }

    async fn reads_back(store: Store) {
        let mut a = account("a-1");
        a.renewal_date = None;
        let b = account("a-2");
        let t = 1_700_000_000;
        let mut gone = Contact {
            deleted_at: None,
            id: "c-2".into(),
            account_id: "a-1".into(),
            name: "Lee".into(),
            persona: Persona::Billing,
            relationship_strength: 1,
            sentiment: Sentiment::Negative,
            active: true,
            observed_at: t,
        };
        let first = gone.clone();
        gone.active = false;
        gone.observed_at = t + 5;
        let records = vec![
            Record::Account(a.clone()),
            Record::Account(b.clone()),
            contact("c-1", Persona::Champion, Sentiment::Positive, t),
            Record::Contact(first),
            Record::Contact(gone.clone()),
        ];
        let out = store
            .ingest(records.into_iter().enumerate().collect())
            .await
            .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        assert_eq!(store.account("a-1").await.unwrap(), Some(a.clone()));
        assert_eq!(store.account("a-3").await.unwrap(), None);
        let all = store.accounts(&AccountFilter::default()).await.unwrap();
        assert_eq!(all, [a, b]);
        let contacts = store.current_contacts("a-1").await.unwrap();
        assert_eq!(contacts.len(), 2);
        assert_eq!(contacts[1], gone);

        // A stored name this version does not know is a corrupt row.
        let sql = "UPDATE accounts SET segment = 'galactic' WHERE id = 'a-2'";
        on_backend!(store, p => {
            sqlx::query(sql).execute(p).await.unwrap();
        });
        match store.account("a-2").await {
            Err(StoreError::Corrupt { table, id, reason }) => {
                assert_eq!((table, id.as_str()), ("accounts", "a-2"));
                assert!(reason.contains("'galactic' is not one of"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn persona_map_puts_the_latest_scored_interaction_beside_each_contact() {
        for store in crate::test_stores("persona_map").await {
            persona_map(store).await;
        }
    }

    async fn persona_map(store: Store) {
        let t = 1_700_000_000;
        let records = vec![
            Record::Account(account("a-1")),
            Record::Account(account("a-2")),
            contact("c-admin", Persona::Admin, Sentiment::Positive, t),
            contact("c-exec", Persona::ExecutiveSponsor, Sentiment::Neutral, t),
            // A later observation: the sponsor's recorded sentiment turned.
            contact(
                "c-exec",
                Persona::ExecutiveSponsor,
                Sentiment::Negative,
                t + 10,
            ),
            contact("c-user", Persona::EndUser, Sentiment::Neutral, t),
            by("i-1", "c-exec", t + 100),
            by("i-2", "c-exec", t + 200), // latest, scored
            by("i-3", "c-exec", t + 300), // later but never scored
            by("i-4", "c-admin", t + 100),
        ];
        let out = store
            .ingest(records.into_iter().enumerate().collect())
            .await
            .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        store
            .set_sentiment(
                TextSource::Interactions,
                &[
                    ("i-1".into(), Some((0.6, Sentiment::Positive))),
                    ("i-2".into(), Some((-0.8, Sentiment::Negative))),
                    ("i-4".into(), Some((0.1, Sentiment::Neutral))),
                ],
                "sentiment-0123456789ab",
            )
            .await
            .unwrap();

        let map = store.persona_map("a-1").await.unwrap();
        let seen: Vec<(&str, Sentiment, Option<&str>)> = map
            .iter()
            .map(|r| {
                (
                    r.contact.id.as_str(),
                    r.contact.sentiment,
                    r.latest_interaction
                        .as_ref()
                        .map(|i| i.interaction_id.as_str()),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("c-exec", Sentiment::Negative, Some("i-2")),
                ("c-admin", Sentiment::Positive, Some("i-4")),
                ("c-user", Sentiment::Neutral, None),
            ]
        );
        assert_eq!(
            map[0].latest_interaction,
            Some(ScoredInteraction {
                interaction_id: "i-2".into(),
                opened_at: t + 200,
                label: Sentiment::Negative,
                score: -0.8,
                model: "sentiment-0123456789ab".into(),
            })
        );
        assert!(store.persona_map("a-2").await.unwrap().is_empty());
        assert!(store.persona_map("nobody").await.unwrap().is_empty());
    }
}
