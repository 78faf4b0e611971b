//! Results of expensive analyst calls (a forecast, the report, realised
//! performance), kept for a while under a key that names everything they
//! depend on: the store's write generation, the models in service, the
//! parameters and the day. A dashboard refreshing every minute is answered
//! from here; any write through this server changes the key. Writes by other
//! servers sharing the database are seen when the entry expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default time an entry is served.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Default most entries kept.
pub const DEFAULT_ENTRIES: usize = 64;

/// A small map of results with a time to live.
#[derive(Debug)]
pub struct ResultCache<V> {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Default for ResultCache<V> {
    fn default() -> Self {
        ResultCache::new(DEFAULT_TTL, DEFAULT_ENTRIES)
    }
}

impl<V: Clone> ResultCache<V> {
    /// Entries live `ttl` (zero: nothing is cached); at most `max` are kept.
    pub fn new(ttl: Duration, max: usize) -> Self {
        ResultCache {
            ttl,
            max: max.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, V)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fresh value under `key`.
    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.lock();
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` under `key`, dropping expired entries and, when full,
    /// the oldest.
    pub fn put(&self, key: String, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        let ttl = self.ttl;
        entries.retain(|_, (at, _)| at.elapsed() < ttl);
        if entries.len() >= self.max
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Entries held (fresh or not).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The cache key of an analyst call (a forecast, a report, realised
/// performance) with `params`: the store's write generation, the models in
/// service (churn, expansion, time-to-churn), today, and the parameters. Every
/// front end keys its cache with it, so none serves an answer older than
/// the data or the models.
pub fn analyst_key(
    store: &pulse_store::Store,
    scoring: &crate::serving::Scoring,
    call: &str,
    params: &str,
) -> String {
    let models = match scoring.current() {
        Some(s) => format!(
            "{}+{}+{}",
            s.engine.churn_version(),
            s.engine.expansion_version().unwrap_or("-"),
            s.survival.as_ref().map_or("-", |m| m.card.version.as_str())
        ),
        None => "-".to_string(),
    };
    format!(
        "{call}|g{}|{models}|{}|{params}",
        store.generation(),
        scoring.clock().today()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_served_until_they_expire_and_the_oldest_goes_first() {
        let c: ResultCache<u32> = ResultCache::new(Duration::from_secs(3600), 2);
        assert_eq!(c.get("a"), None);
        c.put("a".into(), 1);
        c.put("b".into(), 2);
        assert_eq!((c.get("a"), c.get("b")), (Some(1), Some(2)));
        c.put("c".into(), 3);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("a"), None, "the oldest left");
        assert_eq!(c.get("c"), Some(3));
        let off: ResultCache<u32> = ResultCache::new(Duration::ZERO, 2);
        off.put("a".into(), 1);
        assert!(off.is_empty());
        let short: ResultCache<u32> = ResultCache::new(Duration::from_nanos(1), 2);
        short.put("a".into(), 1);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(short.get("a"), None, "expired");
    }
}
