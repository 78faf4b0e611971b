//! `pulse keys`: make API keys. `generate` prints a fresh random key once,
//! with the `[[auth.keys]]` snippet holding its SHA-256 for the server's
//! configuration; `hash` prints the SHA-256 of a key read from standard
//! input. The server only ever holds the hashes.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use pulse_app::access::Role;
use rand::RngCore;

/// `pulse keys`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    what: KeysWhat,
}

#[derive(Debug, Subcommand)]
enum KeysWhat {
    /// Print a new random API key (once: it is not stored anywhere) and the
    /// configuration snippet with its hash.
    Generate {
        /// The key's name, shown in logs (e.g. the team or system using it).
        #[arg(long)]
        name: String,
        /// reader, analyst or admin.
        #[arg(long)]
        role: String,
    },
    /// Print the SHA-256 (hex) of the key read from standard input.
    Hash,
}

/// Prefix of generated keys, so they are recognisable (e.g. by secret scanners).
const KEY_PREFIX: &str = "pulse_";

pub(crate) fn run(args: KeysArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match args.what {
        KeysWhat::Generate { name, role } => {
            let role: Role = role.parse().context("--role")?;
            if name.trim().is_empty() {
                bail!("--name: empty");
            }
            let key = new_key();
            writeln!(
                out,
                "API key '{name}' ({role}). It is shown only this once; give it to its user now:"
            )?;
            writeln!(out)?;
            writeln!(out, "    {key}")?;
            writeln!(out)?;
            writeln!(out, "Add to the server's configuration file:")?;
            writeln!(out)?;
            write!(out, "{}", snippet(&name, role, &key))?;
            Ok(())
        }
        KeysWhat::Hash => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading the key from standard input")?;
            let key = input.trim();
            if key.is_empty() {
                bail!("no key on standard input");
            }
            writeln!(out, "{}", pulse_app::access::hash_key(key))?;
            Ok(())
        }
    }
}

/// `pulse_` and 32 bytes from the operating system's generator, in hex.
fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut key = String::with_capacity(KEY_PREFIX.len() + 64);
    key.push_str(KEY_PREFIX);
    for b in bytes {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// The `[[auth.keys]]` entry for `key`.
fn snippet(name: &str, role: Role, key: &str) -> String {
    // A TOML basic string, quoted and escaped by the toml crate.
    let name = toml::Value::String(name.to_string());
    format!(
        "[[auth.keys]]\nname = {name}\nrole = \"{role}\"\nsha256 = \"{}\"\n",
        pulse_app::access::hash_key(key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_and_prefixed() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with("pulse_") && a.len() == 6 + 64, "{a}");
    }

    #[test]
    fn the_snippet_is_config_the_server_accepts() {
        let key = new_key();
        let text = snippet("crm \"sync\"", Role::Analyst, &key);
        let cfg: crate::config::Config = toml::from_str(&text).unwrap();
        let keys = cfg.api_keys().unwrap();
        let k = keys.verify(&key).expect("the key matches its hash");
        assert_eq!((k.name.as_str(), k.role), ("crm \"sync\"", Role::Analyst));
        assert!(!text.contains(&key), "the snippet holds the hash only");
    }
}
