//! A read-only view of `pulse`'s model registry directory, as much as the
//! model stub needs: the promoted churn model. `registry.json` names the
//! promoted version of each kind (`"promoted": {"churn": "churn-v3"}`) and
//! `<version>.json` is the artifact (`pulse_models::ModelArtifact`). Loading
//! verifies the payload hash and the feature schema, as `pulse` does; this
//! module never writes (the Python server of `bench/` reads the directory
//! the same way).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use pulse_models::ModelArtifact;
use serde::Deserialize;

/// The part of `registry.json` read here.
#[derive(Debug, Deserialize)]
struct Index {
    /// Kind -> promoted version.
    #[serde(default)]
    promoted: BTreeMap<String, String>,
}

/// The promoted churn model of the registry in `dir` and its version.
pub(crate) fn promoted_churn(dir: &Path) -> anyhow::Result<(ModelArtifact, String)> {
    let index_path = dir.join("registry.json");
    let no_model = "no promoted churn model: run `pulse demo --no-serve` (or `pulse train`) first";
    let text = match std::fs::read_to_string(&index_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{no_model}"),
        Err(e) => return Err(e).with_context(|| format!("reading {}", index_path.display())),
    };
    let index: Index =
        serde_json::from_str(&text).with_context(|| index_path.display().to_string())?;
    let version = index.promoted.get("churn").context(no_model)?.clone();
    // Only names the registry writes: `churn-v<N>`.
    if !version
        .strip_prefix("churn-v")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!(
            "{}: the promoted churn model '{version}' is not a registry version",
            index_path.display()
        );
    }
    let path = dir.join(format!("{version}.json"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let artifact = ModelArtifact::from_json(&text).with_context(|| version.clone())?;
    if artifact.card.version != version {
        bail!(
            "{}: the file holds model {}",
            path.display(),
            artifact.card.version
        );
    }
    pulse_training::check_account_model(&artifact).with_context(|| version.clone())?;
    Ok((artifact, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_without_a_promoted_churn_model_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let e = promoted_churn(dir.path()).unwrap_err();
        assert!(e.to_string().contains("pulse demo --no-serve"), "{e:#}");
        std::fs::write(
            dir.path().join("registry.json"),
            r#"{"format":"pulse-registry/1","promoted":{"expansion":"expansion-v1"},"history":[]}"#,
        )
        .unwrap();
        let e = promoted_churn(dir.path()).unwrap_err();
        assert!(e.to_string().contains("no promoted churn model"), "{e:#}");
        std::fs::write(
            dir.path().join("registry.json"),
            r#"{"promoted":{"churn":"../etc/passwd"}}"#,
        )
        .unwrap();
        let e = promoted_churn(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a registry version"), "{e:#}");
        std::fs::write(
            dir.path().join("registry.json"),
            r#"{"promoted":{"churn":"churn-v1"}}"#,
        )
        .unwrap();
        let e = promoted_churn(dir.path()).unwrap_err();
        assert!(format!("{e:#}").contains("churn-v1.json"), "{e:#}");
    }
}
