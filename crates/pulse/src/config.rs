//! Configuration: built-in defaults, then an optional TOML file, then `PULSE_*`
//! environment variables, then command-line flags (each overriding the one
//! before). Validated once at start-up; errors name the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// Everything `pulse` can be configured with. See docs/configuration.md.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Where Pulse keeps its embedded database, generated data and models.
    pub(crate) data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; empty means `sqlite://<data_dir>/pulse.db`.
    pub(crate) database_url: String,
    pub(crate) server: ServerConfig,
    pub(crate) log: LogConfig,
    pub(crate) models: ModelsConfig,
    /// Training settings (`[training]`): horizon, capacity K, leakage gate,
    /// model hyper-parameters, scorecard weights (`[training.scorecard_weights]`).
    pub(crate) training: pulse_training::TrainConfig,
    /// Scoring settings (`[scoring]`): band thresholds, quadrant cut, driver
    /// count, the driver -> play table (`[[scoring.plays]]`), refresh and
    /// weekly runs.
    pub(crate) scoring: pulse_scoring::ScoringConfig,
    /// Access control (`[auth]`): the API keys, by hash.
    pub(crate) auth: AuthConfig,
    /// Weekly lists (`[lists]`): ranking, capacity per owner, assumed save
    /// rate, contact windows, holdout, schedule.
    pub(crate) lists: pulse_lists::ListConfig,
    /// The time-to-churn model (`[survival]`): interval length and count,
    /// as-of step, warm-up, held-out span, its GBT (`[survival.gbt]`).
    pub(crate) survival: pulse_forecast::SurvivalConfig,
    /// Model operations (`[model_ops]`): promotion rule, retraining schedule,
    /// drift thresholds.
    pub(crate) model_ops: ModelOpsConfig,
    /// The Prometheus endpoint (`[metrics]`).
    pub(crate) metrics: MetricsConfig,
    /// The web console (`[web]`).
    pub(crate) web: WebConfig,
    /// Personal data (`[privacy]`): text retention.
    pub(crate) privacy: PrivacyConfig,
    /// Where "today" comes from: the system clock, or the fixed instant of
    /// `PULSE_CLOCK` (`2026-06-30` or RFC 3339), which replays a past day
    /// and pins the date in tests. Not a file setting.
    #[serde(skip)]
    pub(crate) clock: pulse_core::Clock,
}

/// `[model_ops]`: champion/challenger promotion, scheduled retraining, drift.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ModelOpsConfig {
    /// `auto`: a challenger that passes the rule is promoted; `manual`:
    /// nothing is promoted automatically (decisions still recorded).
    pub(crate) promotion: String,
    /// The challenger's PR-AUC must reach the champion's plus this.
    pub(crate) min_pr_auc_gain: f64,
    /// The challenger's ECE may exceed the champion's by at most this.
    pub(crate) max_ece_increase: f64,
    /// Fewer positives in the comparison window: not compared, not promoted.
    pub(crate) min_positives: usize,
    /// `pulse serve` retrains this often (days); 0 turns the schedule off.
    pub(crate) retrain_every_days: u32,
    /// PSI at which a feature (or the predictions, or the label rate) warns.
    pub(crate) drift_warn: f64,
    /// PSI at which drift is critical (and triggers a retraining run).
    pub(crate) drift_critical: f64,
    /// Whether critical drift starts a retraining run.
    pub(crate) retrain_on_critical_drift: bool,
    /// `pulse serve` checks drift weekly.
    pub(crate) drift_check: bool,
}

impl Default for ModelOpsConfig {
    fn default() -> Self {
        let rule = pulse_training::DecisionRule::default();
        ModelOpsConfig {
            promotion: rule.mode.as_str().to_string(),
            min_pr_auc_gain: rule.min_pr_auc_gain,
            max_ece_increase: rule.max_ece_increase,
            min_positives: rule.min_positives,
            retrain_every_days: 28,
            drift_warn: 0.10,
            drift_critical: 0.20,
            retrain_on_critical_drift: true,
            drift_check: true,
        }
    }
}

impl ModelOpsConfig {
    /// The promotion rule, checked; errors name the key.
    pub(crate) fn rule(&self) -> anyhow::Result<pulse_training::DecisionRule> {
        let mode = self
            .promotion
            .parse()
            .map_err(|e| anyhow::anyhow!("model_ops.promotion: {e}"))?;
        let rule = pulse_training::DecisionRule {
            mode,
            min_pr_auc_gain: self.min_pr_auc_gain,
            max_ece_increase: self.max_ece_increase,
            min_positives: self.min_positives,
        };
        match rule.validate() {
            Ok(()) => Ok(rule),
            Err(pulse_training::TrainError::Config { key, reason }) => {
                bail!("model_ops.{key}: {reason}")
            }
            Err(other) => bail!("model_ops: {other}"),
        }
    }

    /// The server's model-operations settings.
    pub(crate) fn settings(&self) -> anyhow::Result<pulse_app::ModelOpsSettings> {
        Ok(pulse_app::ModelOpsSettings {
            rule: self.rule()?,
            retrain_every: (self.retrain_every_days > 0).then(|| {
                std::time::Duration::from_secs(u64::from(self.retrain_every_days) * 86_400)
            }),
            drift_warn: self.drift_warn,
            drift_critical: self.drift_critical,
            drift_every: self
                .drift_check
                .then(|| std::time::Duration::from_secs(7 * 86_400)),
            retrain_on_critical_drift: self.retrain_on_critical_drift,
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.rule()?;
        for (key, v) in [
            ("drift_warn", self.drift_warn),
            ("drift_critical", self.drift_critical),
        ] {
            if !v.is_finite() || v <= 0.0 {
                bail!("model_ops.{key}: {v} is not a positive number");
            }
        }
        if self.drift_critical < self.drift_warn {
            bail!(
                "model_ops.drift_critical: {} is below drift_warn ({})",
                self.drift_critical,
                self.drift_warn
            );
        }
        Ok(())
    }
}

/// `[privacy]`: how long interaction and survey text is kept.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PrivacyConfig {
    /// Drop interaction and survey text older than this many days, once its
    /// sentiment is stored (after each `pulse import`, and by `pulse privacy
    /// retention`); unset keeps text.
    pub(crate) text_retention_days: Option<u32>,
}

/// `[web]`: Customer Central, the web console, on an HTTP address of its
/// own. A non-loopback address follows the same rules as the gRPC address
/// (keys, or `server.insecure_no_auth`); put TLS in front of it with a proxy.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct WebConfig {
    /// Serve the console (`pulse serve` only).
    pub(crate) enabled: bool,
    /// Its listen address.
    pub(crate) addr: SocketAddr,
    /// The currency every amount is shown in (the data's own: Pulse does
    /// not convert).
    pub(crate) currency: String,
    /// How long a signed-in session lasts, in hours.
    pub(crate) session_hours: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            addr: "127.0.0.1:8080".parse().expect("valid default address"),
            currency: "USD".into(),
            session_hours: 8,
        }
    }
}

/// `[metrics]`: the Prometheus text endpoint (`GET /metrics`) on a port of
/// its own.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MetricsConfig {
    /// Serve `/metrics` (`pulse serve` only).
    pub(crate) enabled: bool,
    /// Its listen address (plain HTTP: keep it on loopback or a private network).
    pub(crate) addr: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            addr: "127.0.0.1:9464".parse().expect("valid default address"),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AuthConfig {
    /// `[[auth.keys]]`; none turns access control off (development only).
    pub(crate) keys: Vec<KeyConfig>,
}

/// One API key: `name = "...", role = "reader", sha256 = "..."` (the hash
/// printed by `pulse keys generate` / `pulse keys hash`; never the key).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyConfig {
    pub(crate) name: String,
    /// `reader`, `analyst` or `admin`.
    pub(crate) role: String,
    /// SHA-256 of the key, hex.
    pub(crate) sha256: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ModelsConfig {
    /// The model registry directory; empty means `<data_dir>/models`.
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ServerConfig {
    /// gRPC listen address.
    pub(crate) addr: SocketAddr,
    /// PEM certificate chain; with `tls_key`, the server speaks TLS only.
    pub(crate) tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub(crate) tls_key: Option<PathBuf>,
    /// Serve a non-loopback address without API keys (refused otherwise).
    pub(crate) insecure_no_auth: bool,
    /// Serve a non-loopback address without TLS (refused otherwise).
    pub(crate) insecure_plaintext: bool,
    /// Largest request or response message of every service, in MiB (1 to 1024).
    pub(crate) max_message_mib: u32,
    /// CPU-heavy requests at once (drivers on demand, Explain, raw vectors,
    /// sentiment); 0 means one per core.
    pub(crate) cpu_jobs: usize,
    /// Longest wait for a CPU slot before a call is refused RESOURCE_EXHAUSTED.
    pub(crate) cpu_wait_secs: u64,
    /// Longest a call may take (DEADLINE_EXCEEDED after); 0 means no limit.
    pub(crate) request_timeout_secs: u64,
    /// Most calls in flight on one connection.
    pub(crate) max_concurrent_per_connection: usize,
    /// Seconds between reads of the promoted versions, so a server serves
    /// what another one sharing the models directory promoted; 0 = never.
    pub(crate) promotion_watch_secs: u64,
    /// Forecast, GetReport and GetPerformance computing at once.
    pub(crate) analyst_jobs: usize,
    /// Seconds their answers are served from the cache while nothing was
    /// written through this server; 0 = no cache.
    pub(crate) analyst_cache_secs: u64,
}

impl ServerConfig {
    /// `max_message_mib` in bytes, checked.
    pub(crate) fn max_message_bytes(&self) -> anyhow::Result<usize> {
        if !(1..=1024).contains(&self.max_message_mib) {
            anyhow::bail!(
                "server.max_message_mib: {} is outside 1..=1024",
                self.max_message_mib
            );
        }
        Ok(self.max_message_mib as usize * 1024 * 1024)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LogConfig {
    /// `text` or `json`.
    pub(crate) format: String,
    /// An `EnvFilter` directive such as `info` or `pulse=debug,sqlx=warn`.
    pub(crate) filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            clock: pulse_core::Clock::system(),
            database_url: String::new(),
            server: ServerConfig::default(),
            log: LogConfig::default(),
            models: ModelsConfig::default(),
            training: pulse_training::TrainConfig::default(),
            scoring: pulse_scoring::ScoringConfig::default(),
            auth: AuthConfig::default(),
            lists: pulse_lists::ListConfig::default(),
            survival: pulse_forecast::SurvivalConfig::default(),
            model_ops: ModelOpsConfig::default(),
            metrics: MetricsConfig::default(),
            web: WebConfig::default(),
            privacy: PrivacyConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:50051".parse().expect("valid default address"),
            tls_cert: None,
            tls_key: None,
            insecure_no_auth: false,
            insecure_plaintext: false,
            max_message_mib: 64,
            cpu_jobs: 0,
            cpu_wait_secs: 10,
            request_timeout_secs: 600,
            max_concurrent_per_connection: 256,
            promotion_watch_secs: 5,
            analyst_jobs: 2,
            analyst_cache_secs: 300,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
            filter: "info,sqlx=warn".into(),
        }
    }
}

impl Config {
    /// Defaults, overlaid with the TOML file at `path` if given (a missing
    /// file given explicitly is an error), then with the environment.
    pub(crate) fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("config file {}", p.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = env("PULSE_DATA_DIR") {
            cfg.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("PULSE_DATABASE_URL") {
            cfg.database_url = v;
        }
        if let Some(v) = env("PULSE_SERVER__ADDR") {
            cfg.server.addr = v
                .parse()
                .with_context(|| format!("PULSE_SERVER__ADDR: '{v}' is not host:port"))?;
        }
        if let Some(v) = env("PULSE_TLS_CERT") {
            cfg.server.tls_cert = Some(PathBuf::from(v));
        }
        if let Some(v) = env("PULSE_TLS_KEY") {
            cfg.server.tls_key = Some(PathBuf::from(v));
        }
        if let Some(v) = env("PULSE_LOG__FORMAT") {
            cfg.log.format = v;
        }
        if let Some(v) = env("PULSE_LOG") {
            cfg.log.filter = v;
        }
        if let Some(v) = env("PULSE_METRICS__ADDR") {
            cfg.metrics.addr = v
                .parse()
                .with_context(|| format!("PULSE_METRICS__ADDR: '{v}' is not host:port"))?;
        }
        if let Some(v) = env("PULSE_METRICS__ENABLED") {
            cfg.metrics.enabled = match v.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => bail!("PULSE_METRICS__ENABLED: '{v}' is not true or false"),
            };
        }
        if let Some(v) = env("PULSE_WEB__ADDR") {
            cfg.web.addr = v
                .parse()
                .with_context(|| format!("PULSE_WEB__ADDR: '{v}' is not host:port"))?;
        }
        if let Some(v) = env("PULSE_WEB__ENABLED") {
            cfg.web.enabled = match v.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => bail!("PULSE_WEB__ENABLED: '{v}' is not true or false"),
            };
        }
        if let Some(v) = env("PULSE_MODELS__DIR") {
            cfg.models.dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("PULSE_CLOCK").filter(|v| !v.trim().is_empty()) {
            cfg.clock =
                pulse_core::Clock::parse(&v).map_err(|e| anyhow::anyhow!("PULSE_CLOCK: {e}"))?;
        }
        Ok(cfg)
    }

    /// Checks the values that can be wrong in ways serde cannot see.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format: '{}' is not text or json", self.log.format);
        }
        let url = &self.database_url;
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if !url.is_empty() && !known.iter().any(|p| url.starts_with(p)) {
            bail!("database_url: '{url}' is not sqlite://PATH or postgres://...");
        }
        self.api_keys()?;
        self.tls_paths()?;
        if let Err(e) = self.training.validate() {
            match e {
                pulse_training::TrainError::Config { key, reason } => {
                    bail!("training.{key}: {reason}")
                }
                other => bail!("training: {other}"),
            }
        }
        self.scoring.validate()?;
        self.lists.validate().map_err(|e| anyhow::anyhow!(e))?;
        if let Err(e) = self.survival.validate() {
            match e {
                pulse_forecast::ForecastError::Invalid { field, reason } => {
                    bail!("survival.{field}: {reason}")
                }
                other => bail!("survival: {other}"),
            }
        }
        self.model_ops.validate()?;
        Ok(())
    }

    /// The scoring layer's settings.
    pub(crate) fn scoring_settings(&self) -> pulse_app::ScoringSettings {
        let horizon = u32::try_from(self.training.horizon_days).unwrap_or(90);
        pulse_app::ScoringSettings::new(self.scoring.clone(), horizon, self.clock.clone())
    }

    /// The configured API keys, checked: every error names its key
    /// (`auth.keys[i].field`).
    pub(crate) fn api_keys(&self) -> anyhow::Result<pulse_app::access::ApiKeys> {
        let mut keys = Vec::with_capacity(self.auth.keys.len());
        for (i, k) in self.auth.keys.iter().enumerate() {
            if k.name.trim().is_empty() {
                bail!("auth.keys[{i}].name: empty");
            }
            let role: pulse_app::access::Role = k
                .role
                .parse()
                .with_context(|| format!("auth.keys[{i}].role"))?;
            let key =
                pulse_app::access::ApiKey::from_sha256_hex(k.name.clone(), role, k.sha256.trim())
                    .with_context(|| format!("auth.keys[{i}].sha256"))?;
            keys.push(key);
        }
        pulse_app::access::ApiKeys::new(keys).context("auth.keys")
    }

    /// The TLS certificate and key paths, both or neither.
    pub(crate) fn tls_paths(&self) -> anyhow::Result<Option<(&Path, &Path)>> {
        fn set(p: &Option<PathBuf>) -> Option<&Path> {
            p.as_deref().filter(|p| !p.as_os_str().is_empty())
        }
        match (set(&self.server.tls_cert), set(&self.server.tls_key)) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (Some(_), None) => {
                bail!("server.tls_key: a certificate is set (server.tls_cert) but no private key")
            }
            (None, Some(_)) => {
                bail!("server.tls_cert: a private key is set (server.tls_key) but no certificate")
            }
        }
    }

    /// The model registry directory in effect.
    pub(crate) fn models_dir(&self) -> PathBuf {
        match &self.models.dir {
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
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pulse.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/pulse\"\n[server]\naddr = \"0.0.0.0:7000\"\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("PULSE_SERVER__ADDR", "127.0.0.1:7001")].into();
        let get = |k: &str| env.get(k).map(|v| v.to_string());
        let cfg = Config::load(Some(&file), &get).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/srv/pulse"));
        assert_eq!(cfg.server.addr.port(), 7001);
        assert_eq!(cfg.database_url(), "sqlite:///srv/pulse/pulse.db");
        assert_eq!(cfg.models_dir(), PathBuf::from("/srv/pulse/models"));
        cfg.validate().unwrap();
    }

    #[test]
    fn bad_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pulse.toml");
        std::fs::write(&file, "[server]\nadress = \"x\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), &|_| None).unwrap_err());
        assert!(err.contains("adress"), "{err}");
        let cfg = Config {
            database_url: "mysql://x".into(),
            ..Config::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .starts_with("database_url")
        );
    }

    #[test]
    fn training_settings_and_scorecard_weights_come_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pulse.toml");
        std::fs::write(
            &file,
            "[models]\ndir = \"/srv/models\"\n[training]\nhorizon_days = 60\ncapacity = 25\n[training.gbt]\niterations = 80\n[training.scorecard_weights]\nadoption = 0.5\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        assert_eq!(cfg.models_dir(), PathBuf::from("/srv/models"));
        assert_eq!(cfg.training.horizon_days, 60);
        assert_eq!(cfg.training.capacity, 25);
        assert_eq!(cfg.training.gbt.check_ref().unwrap().iterations(), 80);
        assert_eq!(cfg.training.scorecard_weights.adoption, 0.5);
        assert_eq!(cfg.training.scorecard_weights.support, 0.25);
        cfg.validate().unwrap();
        std::fs::write(
            &file,
            "[scoring]\ngreen_min = 85.0\n[[scoring.plays]]\nfeature = \"missed_payroll_*\"\nplay = \"Call before payroll\"\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        assert_eq!(cfg.scoring.green_min, 85.0);
        assert_eq!(
            cfg.scoring.play_for("missed_payroll_90d"),
            Some("Call before payroll")
        );
        cfg.validate().unwrap();
        std::fs::write(&file, "[scoring]\nyellow_min = 95.0\n").unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.starts_with("scoring.yellow_min"), "{err}");
        std::fs::write(&file, "[training]\ncapacity = 0\n").unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.starts_with("training.capacity"), "{err}");
        // The account models' GBT search: its shapes and patience.
        std::fs::write(
            &file,
            "[training.gbt_search]\npatience = 7\nlearning_rates = [0.02, 0.05]\n[[training.gbt_search.shapes]]\nmax_depth = 2\nmax_leaves = 4\nmin_leaf_weight = 1.0\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        assert_eq!(cfg.training.gbt_search.patience, 7);
        assert_eq!(cfg.training.gbt_search.learning_rates, vec![0.02, 0.05]);
        assert_eq!(cfg.training.gbt_search.shapes.len(), 1);
        assert_eq!(cfg.training.gbt_search.shapes[0].max_depth, 2);
        cfg.validate().unwrap();
        std::fs::write(
            &file,
            "[[training.gbt_search.shapes]]\nmax_depth = 3\nmax_leaves = 0\nmin_leaf_weight = 1.0\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.starts_with("training.gbt_search.shapes"), "{err}");
        assert!(err.contains("shape 1 of 1"), "{err}");
        std::fs::write(&file, "[training.gbt_search]\npatience = 0\n").unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.starts_with("training.gbt_search.patience"), "{err}");
        std::fs::write(
            &file,
            "[training.gbt_search]\nlearning_rates = [0.04, 0.0]\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("training.gbt_search.learning_rates"),
            "{err}"
        );
        assert!(err.contains("rate 2 of 2"), "{err}");
    }

    #[test]
    fn model_ops_and_metrics_settings_come_from_toml_and_bad_ones_name_the_key() {
        let cfg = Config::default();
        let ops = cfg.model_ops.settings().unwrap();
        assert_eq!(
            ops.retrain_every,
            Some(std::time::Duration::from_secs(28 * 86_400))
        );
        assert_eq!(ops.rule.min_pr_auc_gain, 0.02);
        assert!(cfg.metrics.enabled);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pulse.toml");
        std::fs::write(
            &file,
            "[model_ops]\npromotion = \"manual\"\nmin_pr_auc_gain = 0.05\nretrain_every_days = 0\ndrift_warn = 0.05\n[metrics]\naddr = \"127.0.0.1:9999\"\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &|k| {
            (k == "PULSE_METRICS__ENABLED").then(|| "false".to_string())
        })
        .unwrap();
        cfg.validate().unwrap();
        let ops = cfg.model_ops.settings().unwrap();
        assert_eq!(ops.rule.mode, pulse_training::PromotionMode::Manual);
        assert_eq!(ops.rule.min_pr_auc_gain, 0.05);
        assert_eq!(ops.retrain_every, None);
        assert_eq!(ops.drift_warn, 0.05);
        assert_eq!(cfg.metrics.addr.port(), 9999);
        assert!(!cfg.metrics.enabled);
        for (toml, key) in [
            (
                "[model_ops]\npromotion = \"sometimes\"\n",
                "model_ops.promotion",
            ),
            (
                "[model_ops]\nmax_ece_increase = -1.0\n",
                "model_ops.max_ece_increase",
            ),
            (
                "[model_ops]\ndrift_critical = 0.05\n",
                "model_ops.drift_critical",
            ),
        ] {
            std::fs::write(&file, toml).unwrap();
            let cfg = Config::load(Some(&file), &|_| None).unwrap();
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.starts_with(key), "{err}");
        }
    }

    #[test]
    fn list_settings_come_from_toml_and_bad_ones_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pulse.toml");
        std::fs::write(
            &file,
            "[lists]\nrank_by = \"probability\"\ncapacity_per_owner = 7\nholdout_share = 0.1\nschedule_day = \"tuesday\"\nschedule_time = \"07:30\"\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.lists.rank_by, pulse_lists::RankBy::Probability);
        assert_eq!(cfg.lists.capacity_per_owner, 7);
        assert_eq!(cfg.lists.schedule_weekday(), Ok(1));
        std::fs::write(&file, "[lists]\nsave_rate = 2.0\n").unwrap();
        let cfg = Config::load(Some(&file), &|_| None).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.starts_with("lists.save_rate"), "{err}");
        std::fs::write(&file, "[lists]\ncapacity = 3\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), &|_| None).unwrap_err());
        assert!(err.contains("capacity"), "{err}");
    }

    #[test]
    fn api_keys_and_tls_come_from_toml_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pulse.toml");
        let hash = pulse_app::access::hash_key("pulse_k");
        std::fs::write(
            &file,
            format!(
                "[server]\ntls_cert = \"/etc/pulse/cert.pem\"\ntls_key = \"/etc/pulse/key.pem\"\n\
                 [[auth.keys]]\nname = \"dash\"\nrole = \"reader\"\nsha256 = \"{hash}\"\n"
            ),
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("PULSE_TLS_KEY", "/run/key.pem")].into();
        let get = |k: &str| env.get(k).map(|v| v.to_string());
        let cfg = Config::load(Some(&file), &get).unwrap();
        cfg.validate().unwrap();
        let keys = cfg.api_keys().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys.verify("pulse_k").map(|k| k.role),
            Some(pulse_app::access::Role::Reader)
        );
        assert_eq!(
            cfg.tls_paths().unwrap(),
            Some((Path::new("/etc/pulse/cert.pem"), Path::new("/run/key.pem")))
        );
        // No keys and no TLS by default.
        let cfg = Config::default();
        assert!(cfg.api_keys().unwrap().is_empty());
        assert_eq!(cfg.tls_paths().unwrap(), None);
    }

    #[test]
    fn bad_keys_and_half_tls_name_the_key() {
        let key = |role: &str, sha256: &str| KeyConfig {
            name: "k".into(),
            role: role.into(),
            sha256: sha256.into(),
        };
        let hash = pulse_app::access::hash_key("x");
        let err = |cfg: Config| format!("{:#}", cfg.validate().unwrap_err());
        let mut cfg = Config::default();
        cfg.auth.keys = vec![key("reader", &hash), key("owner", &hash)];
        let e = err(cfg.clone());
        assert!(
            e.starts_with("auth.keys[1].role: 'owner' is not a role"),
            "{e}"
        );
        cfg.auth.keys = vec![key("reader", "pulse_plaintext_key")];
        let e = err(cfg.clone());
        assert!(e.starts_with("auth.keys[0].sha256"), "{e}");
        cfg.auth.keys = vec![key("reader", &hash), key("admin", &hash)];
        let e = err(cfg.clone());
        assert!(e.starts_with("auth.keys: two keys are named 'k'"), "{e}");
        let mut cfg = Config::default();
        cfg.server.tls_cert = Some("cert.pem".into());
        assert!(err(cfg.clone()).starts_with("server.tls_key"));
        cfg.server.tls_cert = None;
        cfg.server.tls_key = Some("key.pem".into());
        assert!(err(cfg).starts_with("server.tls_cert"));
    }
}
