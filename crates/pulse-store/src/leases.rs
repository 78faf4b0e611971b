//! Named leases in the database (migration 0005): how replicas sharing one
//! database run each scheduled job once. [`Store::claim`] is one atomic
//! statement (an upsert that only takes a free, expired or own lease), so
//! two replicas claiming at the same instant cannot both win.

use pulse_core::time::Ts;

use crate::{Store, StoreError, on_backend};

impl Store {
    /// Takes the lease `name` for `holder` until `now + ttl_secs`, if it is
    /// free, expired, or already `holder`'s (which renews it). Returns
    /// whether `holder` has it now.
    pub async fn claim(
        &self,
        name: &str,
        holder: &str,
        ttl_secs: i64,
        now: Ts,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                   expires_at = excluded.expires_at \
                   WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder";
        let expires = now.saturating_add(ttl_secs.max(1));
        let n = on_backend!(self, p => {
            sqlx::query(sql)
                .bind(name)
                .bind(holder)
                .bind(expires)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Gives the lease `name` up, if `holder` has it (a finished job whose
    /// outcome is stored needs it no longer).
    pub async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM leases WHERE name = $1 AND holder = $2";
        on_backend!(self, p => {
            sqlx::query(sql).bind(name).bind(holder).execute(p).await?;
        });
        Ok(())
    }

    /// Who holds the lease `name` and until when, if anyone ever took it.
    pub async fn lease(&self, name: &str) -> Result<Option<(String, Ts)>, StoreError> {
        let sql = "SELECT holder, expires_at FROM leases WHERE name = $1";
        Ok(on_backend!(self, p => {
            sqlx::query_as::<_, (String, i64)>(sql)
                .bind(name)
                .fetch_optional(p)
                .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn one_holder_at_a_time_and_an_expired_lease_is_claimable_again() {
        for store in crate::test_stores("leases").await {
            let b = store.backend_name();
            let job = "scoring-run:2026-W48";
            assert!(store.claim(job, "a", 60, 1_000).await.unwrap(), "{b}");
            // Held: another replica cannot take it, at any time before expiry.
            assert!(!store.claim(job, "b", 60, 1_001).await.unwrap(), "{b}");
            assert!(!store.claim(job, "b", 60, 1_059).await.unwrap(), "{b}");
            // Its holder renews it.
            assert!(store.claim(job, "a", 60, 1_030).await.unwrap(), "{b}");
            assert_eq!(
                store.lease(job).await.unwrap(),
                Some(("a".into(), 1_090)),
                "{b}"
            );
            assert!(!store.claim(job, "b", 60, 1_089).await.unwrap(), "{b}");
            // A holder killed mid-job never releases: after expiry, another
            // replica claims it.
            assert!(store.claim(job, "b", 60, 1_090).await.unwrap(), "{b}");
            assert!(!store.claim(job, "a", 60, 1_100).await.unwrap(), "{b}");
            // Released by its holder only.
            store.release(job, "a").await.unwrap();
            assert!(!store.claim(job, "c", 60, 1_101).await.unwrap(), "{b}");
            store.release(job, "b").await.unwrap();
            assert!(store.claim(job, "c", 60, 1_102).await.unwrap(), "{b}");
            // Leases are independent.
            assert!(
                store.claim("drift-check", "a", 60, 1_102).await.unwrap(),
                "{b}"
            );
        }
    }

    #[tokio::test]
    async fn concurrent_claims_have_one_winner() {
        for store in crate::test_stores("leases_race").await {
            let b = store.backend_name();
            let tries: Vec<_> = (0..8)
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .claim("retrain:scheduled", &format!("r{i}"), 600, 5_000)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let mut won = 0;
            for t in tries {
                won += usize::from(t.await.unwrap());
            }
            assert_eq!(won, 1, "{b}");
        }
    }
}
