//! Join keys of import mappings (migration 0008): the values an account or
//! contact block offers other exports to find it by, kept between imports.

use crate::{Store, StoreError, on_backend};

/// One key value and the record it finds: `(value, record id, account id)`.
pub type JoinKey = (String, String, String);

/// Rows per `INSERT` (5 values each, under SQLite's bind limit).
const ROWS_PER_INSERT: usize = 1_000;

impl Store {
    /// Stores (or moves) key values of `kind` (`account` or `contact`)
    /// named `key`; a value already stored now finds the given record.
    ///
    /// An SQLite file is written through the store's rusqlite connection,
    /// one cached single-row statement per key in one transaction: sqlx
    /// binds SQLite parameters by name, and finding each of a 5,000-value
    /// `INSERT`'s names took longer than the whole import of the contacts
    /// that offered the keys.
    pub async fn save_join_keys(
        &self,
        kind: &str,
        key: &str,
        keys: Vec<JoinKey>,
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        if let Some(conn) = &self.sqlite_writer {
            let (conn, kind, key) = (conn.clone(), kind.to_string(), key.to_string());
            return crate::on_thread("pulse-join-keys", move || {
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                {
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO join_keys (kind, key_name, value, record_id, account_id)                          VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, key_name, value) DO UPDATE                          SET record_id = excluded.record_id, account_id = excluded.account_id",
                    )?;
                    for (value, id, account) in &keys {
                        stmt.execute([&kind, &key, value, id, account])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await;
        }
        on_backend!(self, p => {
            let mut tx = p.begin().await?;
            for chunk in keys.chunks(ROWS_PER_INSERT) {
                let mut sql = String::from(
                    "INSERT INTO join_keys (kind, key_name, value, record_id, account_id) VALUES ",
                );
                for i in 0..chunk.len() {
                    let b = i * 5;
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5
                    ));
                }
                sql.push_str(
                    " ON CONFLICT (kind, key_name, value) DO UPDATE SET \
                     record_id = excluded.record_id, account_id = excluded.account_id",
                );
                let mut q = sqlx::query(&sql);
                for (value, id, account) in chunk {
                    q = q.bind(kind).bind(key).bind(value).bind(id).bind(account);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every stored value of the key `key` of `kind`.
    pub async fn join_keys(&self, kind: &str, key: &str) -> Result<Vec<JoinKey>, StoreError> {
        Ok(on_backend!(self, p => {
            sqlx::query_as::<_, (String, String, String)>(
                "SELECT value, record_id, account_id FROM join_keys WHERE kind = $1 AND key_name = $2",
            )
            .bind(kind)
            .bind(key)
            .fetch_all(p)
            .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn keys_are_kept_and_a_value_moves_to_its_latest_record() {
        for store in crate::test_stores("join_keys").await {
            let b = store.backend_name();
            let k = |v: &str, id: &str| (v.to_string(), id.to_string(), id.to_string());
            store
                .save_join_keys(
                    "account",
                    "domain",
                    vec![k("acme.com", "a-1"), k("b.com", "a-2")],
                )
                .await
                .unwrap();
            store
                .save_join_keys("account", "domain", vec![k("acme.com", "a-3")])
                .await
                .unwrap();
            let mut got = store.join_keys("account", "domain").await.unwrap();
            got.sort();
            assert_eq!(got, vec![k("acme.com", "a-3"), k("b.com", "a-2")], "{b}");
            assert!(
                store
                    .join_keys("contact", "email")
                    .await
                    .unwrap()
                    .is_empty(),
                "{b}"
            );
        }
    }
}
