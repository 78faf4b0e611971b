//! Loading every account's history in bulk, for point-in-time features and
//! training.
//!
//! One query per table, ordered by account then time (then id, so events at
//! the same instant always come back in the same order), streamed row by row
//! and grouped by account. The six event tables load concurrently on separate
//! pool connections. Free text is never selected: not an interaction's
//! subject or body, a survey comment, a subscription event's plan or reason,
//! nor an operational event's detail. Outreach is not read at all (see
//! `pulse_features`: the retention loop must not score its own actions).

use std::collections::HashMap;

use futures::TryStreamExt;
use pulse_core::time::{Day, Ts, day_of_ts};
use pulse_features::{
    AccountHistory, ContactFact, InteractionFact, OpKind, OperationalFact, SubscriptionFact,
    SurveyFact, UsageFact,
};
use sqlx::Row;

use crate::read::AccountFilter;
use crate::{Store, StoreError, on_backend};

/// Rows of one table, grouped by the index of their account.
struct Grouped<'a, T> {
    index: &'a HashMap<String, usize>,
    by_account: Vec<Vec<T>>,
    /// The account of the previous row: rows come grouped by account, so the
    /// hash lookup runs once per account and table.
    last: Option<(String, usize)>,
    orphans: u64,
}

impl<'a, T> Grouped<'a, T> {
    fn new(index: &'a HashMap<String, usize>) -> Self {
        Grouped {
            index,
            by_account: (0..index.len()).map(|_| Vec::new()).collect(),
            last: None,
            orphans: 0,
        }
    }

    fn push(&mut self, account_id: &str, fact: T) {
        let i = match &self.last {
            Some((id, i)) if id == account_id => Some(*i),
            _ => {
                let found = self.index.get(account_id).copied();
                if let Some(i) = found {
                    self.last = Some((account_id.to_string(), i));
                }
                found
            }
        };
        match i {
            Some(i) => self.by_account[i].push(fact),
            // Ingest checks references, so this is a row whose account was
            // removed behind Pulse's back; it cannot belong to any history.
            None => self.orphans += 1,
        }
    }

    fn finish(self, table: &'static str) -> Vec<Vec<T>> {
        if self.orphans > 0 {
            tracing::warn!(
                table,
                rows = self.orphans,
                "rows whose account does not exist were skipped"
            );
        }
        self.by_account
    }
}

fn corrupt(table: &'static str, account_id: &str, reason: String) -> StoreError {
    StoreError::corrupt(table, account_id, reason)
}

impl Store {
    /// Every account with all its events known at `until` (everything when
    /// `None`): contacts observed, interactions opened, subscription events,
    /// survey answers and operational events that occurred at or before
    /// `until`, and usage rows starting on or before its day. Accounts are in
    /// id order, each list sorted by time ([`AccountHistory::sort`]).
    ///
    /// Interactions and survey answers carry their stored sentiment score
    /// (`sentiment_score`, NULL until scored). Features read only what was
    /// known at their own as-of instant, so `until` only trims what is loaded;
    /// an interaction resolved after `until` keeps its resolution time, and
    /// the account row is its current one.
    #[tracing::instrument(skip_all, fields(until = ?until))]
    pub async fn load_histories(&self, until: Option<Ts>) -> Result<Vec<AccountHistory>, StoreError> {
        let until_ts = until.unwrap_or(i64::MAX);
        let until_day: i64 = until.map_or(i64::MAX, |t| i64::from(day_of_ts(t)));
        let accounts = self.accounts(&AccountFilter::default()).await?;
        let index: HashMap<String, usize> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let index = &index;

        let contacts = async {
            let sql = "SELECT account_id, id, persona, relationship_strength, sentiment, active, \
                       observed_at FROM contacts WHERE observed_at <= $1 \
                       ORDER BY account_id, observed_at, id";
            let mut g = Grouped::new(index);
            on_backend!(self, p => {
                let mut rows = sqlx::query(sql).bind(until_ts).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    let account: &str = r.try_get(0)?;
                    let persona: &str = r.try_get(2)?;
                    let sentiment: &str = r.try_get(4)?;
                    let fact = ContactFact {
                        contact_id: r.try_get::<String, _>(1)?,
                        persona: persona.parse().map_err(|e| corrupt("contacts", account, e))?,
                        relationship_strength: r.try_get(3)?,
                        sentiment: sentiment.parse().map_err(|e| corrupt("contacts", account, e))?,
                        active: r.try_get(5)?,
                        observed_at: r.try_get(6)?,
                    };
                    g.push(account, fact);
                }
            });
            Ok::<_, StoreError>(g.finish("contacts"))
        };

        let interactions = async {
            let sql = "SELECT account_id, channel, topic, opened_at, first_response_at, \
                       resolved_at, escalated, reopened, contacts_to_resolve, csat, sentiment_score \
                       FROM interactions WHERE opened_at <= $1 \
                       ORDER BY account_id, opened_at, id";
            let mut g = Grouped::new(index);
            on_backend!(self, p => {
                let mut rows = sqlx::query(sql).bind(until_ts).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    let account: &str = r.try_get(0)?;
                    let channel: &str = r.try_get(1)?;
                    let fact = InteractionFact {
                        channel: channel.parse().map_err(|e| corrupt("interactions", account, e))?,
                        topic: r.try_get::<String, _>(2)?,
                        opened_at: r.try_get(3)?,
                        first_response_at: r.try_get(4)?,
                        resolved_at: r.try_get(5)?,
                        escalated: r.try_get(6)?,
                        reopened: r.try_get(7)?,
                        contacts_to_resolve: r.try_get(8)?,
                        csat: r.try_get(9)?,
                        sentiment: r.try_get::<Option<f64>, _>(10)?.map(|s| s as f32),
                    };
                    g.push(account, fact);
                }
            });
            Ok::<_, StoreError>(g.finish("interactions"))
        };

        let usage = async {
            let sql = "SELECT account_id, day, period_days, active_users, logins, features_used \
                       FROM usage WHERE day <= $1 ORDER BY account_id, day";
            let mut g = Grouped::new(index);
            on_backend!(self, p => {
                let mut rows = sqlx::query(sql).bind(until_day).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    let account: &str = r.try_get(0)?;
                    let day: i64 = r.try_get(1)?;
                    let fact = UsageFact {
                        day: Day::try_from(day)
                            .map_err(|_| corrupt("usage", account, format!("day {day} out of range")))?,
                        period_days: r.try_get(2)?,
                        active_users: r.try_get(3)?,
                        logins: r.try_get(4)?,
                        features_used: r.try_get(5)?,
                    };
                    g.push(account, fact);
                }
            });
            Ok::<_, StoreError>(g.finish("usage"))
        };

        let subscriptions = async {
            let sql = "SELECT account_id, kind, occurred_at, mrr_before, mrr_after, seats_before, \
                       seats_after FROM subscription_events WHERE occurred_at <= $1 \
                       ORDER BY account_id, occurred_at, id";
            let mut g = Grouped::new(index);
            on_backend!(self, p => {
                let mut rows = sqlx::query(sql).bind(until_ts).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    let account: &str = r.try_get(0)?;
                    let kind: &str = r.try_get(1)?;
                    let fact = SubscriptionFact {
                        kind: kind
                            .parse()
                            .map_err(|e| corrupt("subscription_events", account, e))?,
                        occurred_at: r.try_get(2)?,
                        mrr_before: r.try_get(3)?,
                        mrr_after: r.try_get(4)?,
                        seats_before: r.try_get(5)?,
                        seats_after: r.try_get(6)?,
                    };
                    g.push(account, fact);
                }
            });
            Ok::<_, StoreError>(g.finish("subscription_events"))
        };

        let surveys = async {
            let sql = "SELECT account_id, kind, score, responded_at, sentiment_score \
                       FROM survey_responses WHERE responded_at <= $1 \
                       ORDER BY account_id, responded_at, id";
            let mut g = Grouped::new(index);
            on_backend!(self, p => {
                let mut rows = sqlx::query(sql).bind(until_ts).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    let account: &str = r.try_get(0)?;
                    let kind: &str = r.try_get(1)?;
                    let fact = SurveyFact {
                        kind: kind.parse().map_err(|e| corrupt("survey_responses", account, e))?,
                        score: r.try_get(2)?,
                        responded_at: r.try_get(3)?,
                        sentiment: r.try_get::<Option<f64>, _>(4)?.map(|s| s as f32),
                    };
                    g.push(account, fact);
                }
            });
            Ok::<_, StoreError>(g.finish("survey_responses"))
        };

        let operational = async {
            let sql = "SELECT account_id, kind, occurred_at FROM operational_events \
                       WHERE occurred_at <= $1 ORDER BY account_id, occurred_at, id";
            let mut g = Grouped::new(index);
            on_backend!(self, p => {
                let mut rows = sqlx::query(sql).bind(until_ts).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    let account: &str = r.try_get(0)?;
                    let kind: &str = r.try_get(1)?;
                    let fact = OperationalFact {
                        kind: OpKind::parse(kind),
                        occurred_at: r.try_get(2)?,
                    };
                    g.push(account, fact);
                }
            });
            Ok::<_, StoreError>(g.finish("operational_events"))
        };

        let (contacts, interactions, usage, subscriptions, surveys, operational) = futures::try_join!(
            contacts,
            interactions,
            usage,
            subscriptions,
            surveys,
            operational
        )?;
        let mut out = Vec::with_capacity(accounts.len());
        let parts = contacts
            .into_iter()
            .zip(interactions)
            .zip(usage)
            .zip(subscriptions)
            .zip(surveys)
            .zip(operational);
        for (account, (((((c, i), u), s), v), o)) in accounts.into_iter().zip(parts) {
            let mut h = AccountHistory::new(account);
            h.contacts = c;
            h.interactions = i;
            h.usage = u;
            h.subscriptions = s;
            h.surveys = v;
            h.operational = o;
            // Nearly free: the rows came sorted; this makes it a guarantee.
            h.sort();
            out.push(h);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::Record;
    use pulse_core::time::{Ts, day_of_ts, parse_day, ts_of_day};
    use pulse_features::{
        AccountHistory, ContactFact, InteractionFact, OperationalFact, SubscriptionFact,
        SurveyFact, UsageFact,
    };
    use pulse_synth::{SynthBase, SynthConfig, generate};

    use crate::Store;

    fn base() -> SynthBase {
        let end = parse_day("end", "2026-06-30").unwrap();
        generate(&SynthConfig::new(25, 8, 7, end))
    }

    /// A made-up model sentiment for every third scored record.
    fn sentiment(k: usize) -> Option<f64> {
        (k % 3 == 0).then(|| (k % 11) as f64 / 10.0 - 0.5)
    }

    async fn load_into(store: &Store, b: &SynthBase) {
        let mut records: Vec<Record> = Vec::new();
        records.extend(b.accounts.iter().cloned().map(Record::Account));
        records.extend(b.contacts.iter().cloned().map(Record::Contact));
        records.extend(b.interactions.iter().cloned().map(Record::Interaction));
        records.extend(b.usage.iter().cloned().map(Record::Usage));
        records.extend(b.subscriptions.iter().cloned().map(Record::Subscription));
        records.extend(b.surveys.iter().cloned().map(Record::Survey));
        records.extend(b.operational.iter().cloned().map(Record::Operational));
        let mut pos = 0;
        for chunk in records.chunks(3_000) {
            let batch: Vec<(usize, Record)> = chunk
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, r)| (pos + i, r))
                .collect();
            pos += chunk.len();
            let out = store.ingest(batch).await.unwrap();
            assert!(out.rejected.is_empty(), "{:?}", &out.rejected[..1]);
        }
        for (k, i) in b.interactions.iter().enumerate() {
            if let Some(s) = sentiment(k) {
                crate::on_backend!(store, p => sqlx::query("UPDATE interactions SET sentiment_score = $1 WHERE id = $2")
                    .bind(s).bind(&i.id).execute(p).await.map(|_| ()).unwrap());
            }
        }
        for (k, v) in b.surveys.iter().enumerate() {
            if let Some(s) = sentiment(k) {
                crate::on_backend!(store, p => sqlx::query("UPDATE survey_responses SET sentiment_score = $1 WHERE id = $2")
                    .bind(s).bind(&v.id).execute(p).await.map(|_| ()).unwrap());
            }
        }
    }

    /// Sorts `(time, id, fact)` triples and keeps the facts: the store's
    /// order for events at the same instant.
    fn ordered<T>(mut v: Vec<(i64, String, T)>) -> Vec<T> {
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        v.into_iter().map(|(_, _, f)| f).collect()
    }

    /// The histories built straight from the generated rows, without a store.
    fn direct(b: &SynthBase, until: Ts) -> Vec<AccountHistory> {
        let until_day = day_of_ts(until);
        let mut accounts = b.accounts.clone();
        accounts.sort_by(|x, y| x.id.cmp(&y.id));
        let mut out = Vec::new();
        for a in accounts {
            let id = a.id.clone();
            let mut h = AccountHistory::new(a);
            h.contacts = ordered(
                b.contacts
                    .iter()
                    .filter(|c| c.account_id == id && c.observed_at <= until)
                    .map(|c| (c.observed_at, c.id.clone(), ContactFact::from(c)))
                    .collect(),
            );
            h.interactions = ordered(
                b.interactions
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| i.account_id == id && i.opened_at <= until)
                    .map(|(k, i)| {
                        let mut f = InteractionFact::from(i);
                        f.sentiment = sentiment(k).map(|s| s as f32);
                        (i.opened_at, i.id.clone(), f)
                    })
                    .collect(),
            );
            h.usage = ordered(
                b.usage
                    .iter()
                    .filter(|u| u.account_id == id && u.day <= until_day)
                    .map(|u| (i64::from(u.day), String::new(), UsageFact::from(u)))
                    .collect(),
            );
            h.subscriptions = ordered(
                b.subscriptions
                    .iter()
                    .filter(|e| e.account_id == id && e.occurred_at <= until)
                    .map(|e| (e.occurred_at, e.id.clone(), SubscriptionFact::from(e)))
                    .collect(),
            );
            h.surveys = ordered(
                b.surveys
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.account_id == id && s.responded_at <= until)
                    .map(|(k, s)| {
                        let mut f = SurveyFact::from(s);
                        f.sentiment = sentiment(k).map(|s| s as f32);
                        (s.responded_at, s.id.clone(), f)
                    })
                    .collect(),
            );
            h.operational = ordered(
                b.operational
                    .iter()
                    .filter(|e| e.account_id == id && e.occurred_at <= until)
                    .map(|e| (e.occurred_at, e.id.clone(), OperationalFact::from(e)))
                    .collect(),
            );
            assert!(h.is_sorted());
            out.push(h);
        }
        out
    }

    fn check_same(loaded: &[AccountHistory], want: &[AccountHistory]) {
        assert_eq!(loaded.len(), want.len());
        for (l, w) in loaded.iter().zip(want) {
            // Field by field, so a failure names the list that differs.
            assert_eq!(l.account, w.account);
            assert_eq!(l.contacts, w.contacts, "{}", w.account.id);
            assert_eq!(l.interactions, w.interactions, "{}", w.account.id);
            assert_eq!(l.usage, w.usage, "{}", w.account.id);
            assert_eq!(l.subscriptions, w.subscriptions, "{}", w.account.id);
            assert_eq!(l.surveys, w.surveys, "{}", w.account.id);
            assert_eq!(l.operational, w.operational, "{}", w.account.id);
        }
    }

    #[tokio::test]
    async fn histories_load_as_built_from_the_generated_rows() {
        let b = base();
        assert!(b.interactions.len() > 100 && b.surveys.len() > 10);
        for store in crate::test_stores("load_histories").await {
            load_into(&store, &b).await;
            let all = store.load_histories(None).await.unwrap();
            check_same(&all, &direct(&b, i64::MAX));
            assert!(
                all.iter()
                    .flat_map(|h| &h.interactions)
                    .any(|i| i.sentiment.is_some())
            );
            assert!(all.iter().any(|h| !h.usage.is_empty() && !h.contacts.is_empty()));

            // Only what happened by `until`; every account is still there.
            let until = ts_of_day(parse_day("until", "2026-03-15").unwrap()) + 12 * 3600;
            let early = store.load_histories(Some(until)).await.unwrap();
            check_same(&early, &direct(&b, until));
            let n = |hs: &[AccountHistory]| -> usize {
                hs.iter().map(|h| h.interactions.len() + h.usage.len()).sum()
            };
            assert!(n(&early) < n(&all) && n(&early) > 0);
        }
    }

    #[tokio::test]
    async fn an_empty_store_has_no_histories() {
        let store = Store::in_memory().await.unwrap();
        assert!(store.load_histories(None).await.unwrap().is_empty());
    }
}
