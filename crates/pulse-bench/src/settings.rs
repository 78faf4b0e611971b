//! The settings the benchmarks need, read the way `pulse` reads them:
//! built-in defaults, then an optional TOML file (`pulse`'s own configuration
//! file: only the keys below are read, every other one is left to `pulse`),
//! then `PULSE_*` environment variables, then command-line flags.
//!
//! | setting | TOML key | environment | flag |
//! |---|---|---|---|
//! | data directory | `data_dir` | `PULSE_DATA_DIR` | `--data-dir` |
//! | database URL | `database_url` | `PULSE_DATABASE_URL` | `--database-url` |
//! | model registry | `[models] dir` | `PULSE_MODELS__DIR` | `--models-dir` |
//! | server address (`score`'s default `--addr`) | `[server] addr` | `PULSE_SERVER__ADDR` | |
//! | log format | `[log] format` | `PULSE_LOG__FORMAT` | `--log-format` |
//! | log filter | `[log] filter` | `PULSE_LOG` | |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// What the benchmarks are configured with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub(crate) data_dir: PathBuf,
    /// Empty means `sqlite://<data_dir>/pulse.db`.
    pub(crate) database_url: String,
    /// Empty means `<data_dir>/models`.
    pub(crate) models_dir: Option<PathBuf>,
    /// The address `pulse serve` listens on by default.
    pub(crate) server_addr: SocketAddr,
    /// `text` or `json`.
    pub(crate) log_format: String,
    /// An `EnvFilter` directive.
    pub(crate) log_filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            models_dir: None,
            server_addr: "127.0.0.1:50051".parse().expect("valid default address"),
            log_format: "text".into(),
            log_filter: "info,sqlx=warn".into(),
        }
    }
}

/// The keys of `pulse`'s configuration file read here (unknown keys are
/// `pulse`'s business and ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct File {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    server: FileServer,
    log: FileLog,
    models: FileModels,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileServer {
    addr: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileLog {
    format: Option<String>,
    filter: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileModels {
    dir: Option<PathBuf>,
}

impl Settings {
    /// Defaults, overlaid with the TOML file at `path` if given (a missing
    /// file given explicitly is an error), then with the environment.
    pub(crate) fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Settings> {
        let mut s = Settings::default();
        if let Some(p) = path {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config file {}", p.display()))?;
            let f: File =
                toml::from_str(&text).with_context(|| format!("config file {}", p.display()))?;
            if let Some(v) = f.data_dir {
                s.data_dir = v;
            }
            if let Some(v) = f.database_url {
                s.database_url = v;
            }
            if let Some(v) = f.server.addr {
                s.server_addr = v;
            }
            if let Some(v) = f.log.format {
                s.log_format = v;
            }
            if let Some(v) = f.log.filter {
                s.log_filter = v;
            }
            if let Some(v) = f.models.dir {
                s.models_dir = Some(v);
            }
        }
        if let Some(v) = env("PULSE_DATA_DIR") {
            s.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("PULSE_DATABASE_URL") {
            s.database_url = v;
        }
        if let Some(v) = env("PULSE_SERVER__ADDR") {
            s.server_addr = v
                .parse()
                .with_context(|| format!("PULSE_SERVER__ADDR: '{v}' is not host:port"))?;
        }
        if let Some(v) = env("PULSE_LOG__FORMAT") {
            s.log_format = v;
        }
        if let Some(v) = env("PULSE_LOG") {
            s.log_filter = v;
        }
        if let Some(v) = env("PULSE_MODELS__DIR") {
            s.models_dir = Some(PathBuf::from(v));
        }
        Ok(s)
    }

    /// Checks the values that can be wrong in ways serde cannot see.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log.format: '{}' is not text or json", self.log_format);
        }
        let url = &self.database_url;
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if !url.is_empty() && !known.iter().any(|p| url.starts_with(p)) {
            bail!("database_url: '{url}' is not sqlite://PATH or postgres://...");
        }
        Ok(())
    }

    /// The model registry directory in effect.
    pub(crate) fn models_dir(&self) -> PathBuf {
        match &self.models_dir {
            Some(d) if !d.as_os_str().is_empty() => d.clone(),
            _ => self.data_dir.join("models"),
        }
    }

    /// The database URL in effect.
    pub(crate) fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("pulse.db").display())
        } else {
            self.database_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn layers_override_in_order_and_pulse_keys_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pulse.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/pulse\"\n[server]\naddr = \"0.0.0.0:7000\"\ntls_cert = \"c.pem\"\n\
             [models]\ndir = \"/srv/models\"\n[training]\nhorizon_days = 60\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("PULSE_SERVER__ADDR", "127.0.0.1:7001")].into();
        let s = Settings::load(Some(&file), &|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/pulse"));
        assert_eq!(s.server_addr.port(), 7001);
        assert_eq!(s.models_dir(), PathBuf::from("/srv/models"));
        assert_eq!(s.database_url(), "sqlite:///srv/pulse/pulse.db");
        s.validate().unwrap();

        let d = Settings::load(None, &|_| None).unwrap();
        assert_eq!(d, Settings::default());
        assert_eq!(d.models_dir(), PathBuf::from("data/models"));
    }

    #[test]
    fn bad_values_name_the_key() {
        let env = |k: &str| (k == "PULSE_SERVER__ADDR").then(|| "nowhere".to_string());
        let e = Settings::load(None, &env).unwrap_err();
        assert!(format!("{e:#}").contains("PULSE_SERVER__ADDR"), "{e:#}");
        let s = Settings {
            log_format: "xml".into(),
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().to_string().contains("log.format"));
        let s = Settings {
            database_url: "mysql://x".into(),
            ..Settings::default()
        };
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("database_url")
        );
        assert!(Settings::load(Some(Path::new("/no/such/file.toml")), &|_| None).is_err());
    }
}
