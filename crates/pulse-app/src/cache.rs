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

/// Longest a stale result ([`ResultCache::get_stale`]) is served.
pub const MAX_STALE: Duration = Duration::from_secs(30 * 60);

/// A small map of results with a time to live. It also keeps the latest
/// result per key without its write generation, for front ends that show
/// the previous answer while a new one computes.
#[derive(Debug)]
pub struct ResultCache<V> {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
    latest: Mutex<HashMap<String, (Instant, V)>>,
}

/// A key without its write generation (`call|g12|rest` -> `call|rest`).
fn generation_free(key: &str) -> String {
    let mut parts = key.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(call), Some(g), Some(rest))
            if g.len() > 1 && g.starts_with('g') && g[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{call}|{rest}")
        }
        _ => key.to_string(),
    }
}

/// Keeps `value` under `key` in `entries`, dropping entries older than
/// `keep` and, when full, the oldest.
fn insert<V>(
    entries: &mut HashMap<String, (Instant, V)>,
    key: String,
    value: V,
    keep: Duration,
    max: usize,
) {
    entries.retain(|_, (at, _)| at.elapsed() < keep);
    if entries.len() >= max
        && let Some(oldest) = entries
            .iter()
            .min_by_key(|(_, (at, _))| *at)
            .map(|(k, _)| k.clone())
    {
        entries.remove(&oldest);
    }
    entries.insert(key, (Instant::now(), value));
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
            latest: Mutex::new(HashMap::new()),
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
        insert(
            &mut self.latest.lock().unwrap_or_else(|p| p.into_inner()),
            generation_free(&key),
            value.clone(),
            MAX_STALE,
            self.max,
        );
        insert(&mut self.lock(), key, value, self.ttl, self.max);
    }

    /// The latest value put under `key` but for its write generation (an
    /// answer computed before a later write, or one that expired), at most
    /// [`MAX_STALE`] old. The fresh one, when there is one, is `get`'s.
    pub fn get_stale(&self, key: &str) -> Option<V> {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest
            .get(&generation_free(key))
            .filter(|(at, _)| at.elapsed() < MAX_STALE)
            .map(|(_, v)| v.clone())
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
        assert_eq!(short.get_stale("a"), Some(1), "but still the latest");
    }

    #[test]
    fn a_stale_value_is_the_latest_for_the_same_call_models_day_and_parameters() {
        let c: ResultCache<u32> = ResultCache::new(Duration::from_secs(3600), 8);
        c.put("web-forecast|g3|churn-v1+-+-|20000|91".into(), 1);
        c.put("web-forecast|g5|churn-v1+-+-|20000|91".into(), 2);
        // After another write: nothing fresh, the latest is there.
        let key = "web-forecast|g6|churn-v1+-+-|20000|91";
        assert_eq!(c.get(key), None);
        assert_eq!(c.get_stale(key), Some(2));
        // Other parameters, models or day: nothing.
        assert_eq!(c.get_stale("web-forecast|g6|churn-v1+-+-|20000|30"), None);
        assert_eq!(c.get_stale("web-forecast|g6|churn-v2+-+-|20000|91"), None);
        assert_eq!(c.get_stale("web-forecast|g6|churn-v1+-+-|20001|91"), None);
        assert_eq!(generation_free("a|b"), "a|b");
        assert_eq!(generation_free("a|gx|b"), "a|gx|b");
        let off: ResultCache<u32> = ResultCache::new(Duration::ZERO, 2);
        off.put(key.into(), 1);
        assert_eq!(
            off.get_stale(key),
            None,
            "a cache that is off keeps nothing"
        );
    }
}
