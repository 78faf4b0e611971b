//! What every Pulse process does around its work: open the store named by
//! the configuration (without printing its password) and wait for the
//! signal to stop.

use std::path::Path;

use pulse_store::Store;

/// The store could not be opened; the message names the database without
/// its password.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("creating data directory {dir}: {source}")]
    DataDir { dir: String, source: std::io::Error },
    #[error("opening the database {url}: {source}")]
    Database {
        url: String,
        source: pulse_store::StoreError,
    },
}

/// Opens the store at `url`; for an SQLite URL, creates `data_dir` first.
/// Acknowledged writes are durable.
pub async fn open_store(url: &str, data_dir: &Path) -> Result<Store, OpenError> {
    open_store_with(url, data_dir, pulse_store::Durability::Full).await
}

/// [`open_store`] with the given durability of SQLite commits.
pub async fn open_store_with(
    url: &str,
    data_dir: &Path,
    durability: pulse_store::Durability,
) -> Result<Store, OpenError> {
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(data_dir).map_err(|source| OpenError::DataDir {
            dir: data_dir.display().to_string(),
            source,
        })?;
    }
    let store = Store::connect_with(url, durability)
        .await
        .map_err(|source| OpenError::Database {
            url: redact_url(url),
            source,
        })?;
    tracing::info!(backend = store.backend_name(), url = %redact_url(url), "store ready");
    Ok(store)
}

/// This process's name among servers sharing one database (the holder of
/// the leases it takes): host name, process id and start time.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".into());
        format!(
            "{host}/{}/{}",
            std::process::id(),
            pulse_core::Clock::system().now()
        )
    })
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://pulse:s3cret@db:5432/pulse"),
            "postgres://pulse:***@db:5432/pulse"
        );
        assert_eq!(
            redact_url("sqlite://data/pulse.db"),
            "sqlite://data/pulse.db"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }

    #[tokio::test]
    async fn an_unreachable_database_is_named_without_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_store("postgres://pulse:s3cret@127.0.0.1:1/pulse", dir.path())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("postgres://pulse:***@127.0.0.1:1/pulse"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
