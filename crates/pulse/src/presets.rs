//! The shipped import mappings for common exports (`--preset NAME`), and
//! loading mappings from files.
//!
//! Each preset is a mapping file under `crates/pulse/presets/`, written from
//! the vendor's documented export columns; `pulse presets NAME` prints it
//! for a user to copy and edit. `pulse synth --format NAME` writes the
//! synthetic base in the same shape (`vendor_export.rs`), and a test checks
//! that importing those files through the preset gives the native store.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::mapping::Mapping;

pub(crate) struct Preset {
    pub(crate) name: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) text: &'static str,
}

pub(crate) const PRESETS: &[Preset] = &[
    Preset {
        name: "hubspot-companies",
        summary: "HubSpot CRM export of companies -> accounts (offers the join key `domain`)",
        text: include_str!("../presets/hubspot-companies.toml"),
    },
    Preset {
        name: "hubspot-contacts",
        summary: "HubSpot CRM export of contacts -> contacts (offers the join key `email`)",
        text: include_str!("../presets/hubspot-contacts.toml"),
    },
    Preset {
        name: "salesforce-accounts",
        summary: "Salesforce accounts (Data Export or Data Loader CSV) -> accounts (offers the join key `domain`, from Website)",
        text: include_str!("../presets/salesforce-accounts.toml"),
    },
    Preset {
        name: "salesforce-contacts",
        summary: "Salesforce contacts (Data Export or Data Loader CSV) -> contacts (offers the join key `email`)",
        text: include_str!("../presets/salesforce-contacts.toml"),
    },
    Preset {
        name: "zendesk-tickets",
        summary: "Zendesk Support ticket export (CSV) -> interactions",
        text: include_str!("../presets/zendesk-tickets.toml"),
    },
    Preset {
        name: "freshdesk-tickets",
        summary: "Freshdesk ticket export (CSV) -> interactions",
        text: include_str!("../presets/freshdesk-tickets.toml"),
    },
    Preset {
        name: "intercom-conversations",
        summary: "Intercom conversations (REST API objects, JSON Lines) -> interactions",
        text: include_str!("../presets/intercom-conversations.toml"),
    },
    Preset {
        name: "delighted-responses",
        summary: "Delighted NPS and CSAT survey responses (CSV) -> survey responses",
        text: include_str!("../presets/delighted-responses.toml"),
    },
    Preset {
        name: "qualtrics-responses",
        summary: "Qualtrics NPS and CSAT survey responses (CSV, numeric values) -> survey responses",
        text: include_str!("../presets/qualtrics-responses.toml"),
    },
    Preset {
        name: "stripe-events",
        summary: "Stripe subscription and invoice events (Events API objects, JSON Lines) -> subscription events",
        text: include_str!("../presets/stripe-events.toml"),
    },
    Preset {
        name: "segment-events",
        summary: "Segment track and page calls (JSON Lines) -> weekly usage per account (active users, logins, features)",
        text: include_str!("../presets/segment-events.toml"),
    },
];

/// A preset's mapping text.
pub(crate) fn text(name: &str) -> anyhow::Result<&'static str> {
    match PRESETS.iter().find(|p| p.name == name) {
        Some(p) => Ok(p.text),
        None => bail!(
            "no preset '{name}' (presets: {})",
            PRESETS
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The presets and mapping files of one import, as one mapping; `None`
/// when none is given.
pub(crate) fn load_all(presets: &[String], files: &[PathBuf]) -> anyhow::Result<Option<Mapping>> {
    if presets.is_empty() && files.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for name in presets {
        let m = Mapping::parse(text(name)?).map_err(|e| anyhow::anyhow!("preset {name}: {e}"))?;
        parts.push((format!("preset {name}"), m));
    }
    for path in files {
        parts.push((path.display().to_string(), load_file(path)?));
    }
    Ok(Some(Mapping::combine(parts)))
}

/// Reads and checks a mapping file.
pub(crate) fn load_file(path: &Path) -> anyhow::Result<Mapping> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the mapping {}", path.display()))?;
    Mapping::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_valid_mapping_and_they_combine() {
        for p in PRESETS {
            Mapping::parse(p.text).unwrap_or_else(|e| panic!("preset {}: {e}", p.name));
        }
        let all: Vec<String> = PRESETS.iter().map(|p| p.name.to_string()).collect();
        let m = load_all(&all, &[]).unwrap().unwrap();
        assert!(m.entities.len() >= PRESETS.len());
        // Alone, a preset that joins is a valid mapping: the keys may come
        // from an earlier import (the import checks).
        assert!(load_all(&["zendesk-tickets".into()], &[]).is_ok());
        assert!(
            text("zendesk")
                .unwrap_err()
                .to_string()
                .contains("zendesk-tickets")
        );
    }
}
