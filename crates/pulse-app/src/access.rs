//! Who may do what: roles and API keys, for every front end. A key is
//! configured by its SHA-256 (lower-case hex), never in plain text, and
//! belongs to a [`Role`]: `reader` < `analyst` < `admin`, each allowed
//! everything the one before it is. [`ApiKeys::verify`] finds the key behind
//! a presented secret in constant time; each front end maps its requests to
//! the role they need (the gRPC server's table is `pulse_server::auth`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do; each role may do everything the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Scores, account profiles, ranked lists (and recording outreach on them),
    /// sentiment analysis.
    Reader,
    /// Also training and inspecting models, forecasts and reports.
    Analyst,
    /// Also ingest, model promotion and anything not listed (configuration).
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Reader, Role::Analyst, Role::Admin];

    /// The name used in configuration: `reader`, `analyst` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Role, AuthError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AuthError::UnknownRole(s.to_string()))
    }
}

/// Errors in the key configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("'{0}' is not a role (reader, analyst or admin)")]
    UnknownRole(String),
    #[error("'{0}' is not a SHA-256 in hex (64 hex digits)")]
    BadHash(String),
    #[error("a key needs a name")]
    EmptyName,
    #[error("two keys are named '{0}'")]
    DuplicateName(String),
    #[error("keys '{0}' and '{1}' have the same hash")]
    DuplicateHash(String, String),
}

/// SHA-256 of `key`, lower-case hex: how a key is written in configuration.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A configured key: its name (shown in logs), its role and the SHA-256 of
/// the key itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub role: Role,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash stays out of debug output too.
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// A key from its SHA-256 in hex (64 digits, either case).
    pub fn from_sha256_hex(
        name: impl Into<String>,
        role: Role,
        sha256: &str,
    ) -> Result<ApiKey, AuthError> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(AuthError::EmptyName);
        }
        let bad = || AuthError::BadHash(sha256.to_string());
        let digits = sha256.as_bytes();
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut hash = [0u8; 32];
        for (out, pair) in hash.iter_mut().zip(digits.chunks(2)) {
            let hi = hex_digit(pair[0]).ok_or_else(bad)?;
            let lo = hex_digit(pair[1]).ok_or_else(bad)?;
            *out = hi << 4 | lo;
        }
        Ok(ApiKey { name, role, hash })
    }

    /// A key from the key itself (tests, tools); configuration holds hashes.
    pub fn from_key(name: impl Into<String>, role: Role, key: &str) -> ApiKey {
        ApiKey {
            name: name.into(),
            role,
            hash: Sha256::digest(key.as_bytes()).into(),
        }
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The configured keys; empty means access control is off.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Arc<[ApiKey]>,
}

impl ApiKeys {
    /// The set of `keys`; names and hashes must be unique.
    pub fn new(keys: Vec<ApiKey>) -> Result<ApiKeys, AuthError> {
        for (i, a) in keys.iter().enumerate() {
            if a.name.trim().is_empty() {
                return Err(AuthError::EmptyName);
            }
            for b in &keys[..i] {
                if a.name == b.name {
                    return Err(AuthError::DuplicateName(a.name.clone()));
                }
                if a.hash == b.hash {
                    return Err(AuthError::DuplicateHash(b.name.clone(), a.name.clone()));
                }
            }
        }
        Ok(ApiKeys { keys: keys.into() })
    }

    /// No keys: access control is off.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The configured key named `name` (a signed-in session names its key).
    pub fn by_name(&self, name: &str) -> Option<&ApiKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The configured key whose hash is the hash of `presented`. Every stored
    /// hash is compared, each in constant time, so the time taken does not
    /// tell how much of a hash matched nor which key did.
    pub fn verify(&self, presented: &str) -> Option<&ApiKey> {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for k in self.keys.iter() {
            let equal: bool = k.hash.ct_eq(&hash).into();
            if equal && found.is_none() {
                found = Some(k);
            }
        }
        found
    }
}

/// The caller of a request when access control is on: the name of the key it
/// presented (never the key) and the key's role. Front ends hand the
/// application `Option<&Caller>`: `None` means access control is off, and
/// the call is trusted as an administrator's (the development default, and
/// the local CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's name.
    pub name: String,
    pub role: Role,
}

/// Whether `caller` may do what needs `need` (`None`: access control is off,
/// everything is allowed).
pub fn allows(caller: Option<&Caller>, need: Role) -> bool {
    caller.is_none_or(|c| c.role >= need)
}

/// Why a server refuses to start on its address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExposureError {
    #[error(
        "refusing to serve on {addr} without API keys: every caller could call every RPC. \
         Configure keys ([auth] keys, `pulse keys new`), listen on a loopback address, \
         or pass --insecure-no-auth (server.insecure_no_auth = true) to accept it"
    )]
    NoAuth { addr: std::net::IpAddr },
    #[error(
        "refusing to serve on {addr} without TLS: API keys and data would travel in clear. \
         Configure server.tls_cert and server.tls_key (--tls-cert, --tls-key), listen on a \
         loopback address, or pass --insecure-plaintext (server.insecure_plaintext = true) \
         when TLS ends in front of Pulse"
    )]
    Plaintext { addr: std::net::IpAddr },
}

/// How a server is exposed, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    pub addr: std::net::IpAddr,
    /// API keys are configured (access control is on).
    pub keys: bool,
    /// TLS is configured.
    pub tls: bool,
    /// `--insecure-no-auth`: serve a non-loopback address without keys.
    pub allow_no_auth: bool,
    /// `--insecure-plaintext`: serve a non-loopback address without TLS.
    pub allow_plaintext: bool,
}

/// Decides whether a server may start: on a loopback address anything goes;
/// on any other address, no keys or no TLS each need their explicit
/// `insecure` flag. `Ok` carries the warnings to log (what the flags let
/// through).
pub fn check_exposure(e: &Exposure) -> Result<Vec<String>, ExposureError> {
    let mut warnings = Vec::new();
    if e.addr.is_loopback() {
        return Ok(warnings);
    }
    if !e.keys {
        if !e.allow_no_auth {
            return Err(ExposureError::NoAuth { addr: e.addr });
        }
        warnings.push(format!(
            "serving {} without API keys (--insecure-no-auth): every caller may call every RPC",
            e.addr
        ));
    }
    if !e.tls {
        if !e.allow_plaintext {
            return Err(ExposureError::Plaintext { addr: e.addr });
        }
        warnings.push(format!(
            "serving {} without TLS (--insecure-plaintext): keys and data travel in clear",
            e.addr
        ));
    }
    Ok(warnings)
}

/// What a request path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a key.
    Open,
    /// A key of at least this role.
    Role(Role),
}

/// Who may call what: the first rule whose pattern matches the request path
/// (`/package.Service/Method`) wins. A pattern ending in `*` matches every
/// path that starts with what comes before the `*`; any other pattern matches
/// that path only. A path no rule matches needs [`Role::Admin`], so a new
/// service or method is closed until a rule opens it.
///
/// | pattern | access |
/// |---|---|
/// | `/grpc.health.v1.Health/*`, `/grpc.reflection.*` | open |
/// | `/pulse.v1.ScoringService/RunScoring` | analyst (listed before the ScoringService rule) |
/// | `/pulse.v1.ScoringService/*`, `/pulse.v1.AccountService/*`, `/pulse.v1.ListService/*`, `/pulse.v1.SentimentService/Analyze` | reader |
/// | `/pulse.v1.ModelService/Promote*` | admin |
/// | `/pulse.v1.ListService/GenerateLists` | analyst (listed before the ListService rule) |
/// | `/pulse.v1.ModelService/*`, `/pulse.v1.ForecastService/*`, `/pulse.v1.ReportService/*` | analyst |
/// | `/pulse.v1.IngestService/*`, anything else | admin |
pub const ACCESS_RULES: &[(&str, Access)] = &[
    ("/grpc.health.v1.Health/*", Access::Open),
    ("/grpc.reflection.*", Access::Open),
    // Before the ScoringService rule: a run rescores the base and is stored.
    (
        "/pulse.v1.ScoringService/RunScoring",
        Access::Role(Role::Analyst),
    ),
    ("/pulse.v1.ScoringService/*", Access::Role(Role::Reader)),
    ("/pulse.v1.AccountService/*", Access::Role(Role::Reader)),
    // Before the ListService rule: generating writes a week's lists for everyone.
    (
        "/pulse.v1.ListService/GenerateLists",
        Access::Role(Role::Analyst),
    ),
    // Lists, and recording the outreach done from them (RecordOutreach).
    ("/pulse.v1.ListService/*", Access::Role(Role::Reader)),
    (
        "/pulse.v1.SentimentService/Analyze",
        Access::Role(Role::Reader),
    ),
    // Before the ModelService rule: promotion changes what every caller is served.
    ("/pulse.v1.ModelService/Promote*", Access::Role(Role::Admin)),
    ("/pulse.v1.ModelService/*", Access::Role(Role::Analyst)),
    ("/pulse.v1.ForecastService/*", Access::Role(Role::Analyst)),
    ("/pulse.v1.ReportService/*", Access::Role(Role::Analyst)),
    ("/pulse.v1.IngestService/*", Access::Role(Role::Admin)),
];

/// The access `path` needs under [`ACCESS_RULES`] (admin when no rule matches).
pub fn required_access(path: &str) -> Access {
    ACCESS_RULES
        .iter()
        .find(|(pattern, _)| match pattern.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == *pattern,
        })
        .map_or(Access::Role(Role::Admin), |(_, access)| *access)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposure(addr: &str, keys: bool, tls: bool) -> Exposure {
        Exposure {
            addr: addr.parse().unwrap(),
            keys,
            tls,
            allow_no_auth: false,
            allow_plaintext: false,
        }
    }

    #[test]
    fn loopback_is_open_by_default() {
        for addr in ["127.0.0.1", "::1"] {
            assert_eq!(check_exposure(&exposure(addr, false, false)), Ok(vec![]));
        }
    }

    #[test]
    fn a_public_address_needs_keys_and_tls_or_the_flags() {
        let e = exposure("0.0.0.0", false, false);
        let err = check_exposure(&e).unwrap_err();
        assert_eq!(err, ExposureError::NoAuth { addr: e.addr });
        assert!(err.to_string().contains("--insecure-no-auth"), "{err}");
        // Keys but no TLS: plaintext is refused next.
        let err = check_exposure(&exposure("10.1.2.3", true, false)).unwrap_err();
        assert!(err.to_string().contains("--insecure-plaintext"), "{err}");
        assert_eq!(check_exposure(&exposure("::", true, true)), Ok(vec![]));
        // The flags let each through, with a warning each.
        let flags = Exposure {
            allow_no_auth: true,
            allow_plaintext: true,
            ..e
        };
        assert_eq!(check_exposure(&flags).unwrap().len(), 2);
        let no_auth_only = Exposure {
            allow_no_auth: true,
            ..e
        };
        assert!(matches!(
            check_exposure(&no_auth_only),
            Err(ExposureError::Plaintext { .. })
        ));
    }

    #[test]
    fn no_caller_means_access_control_is_off() {
        assert!(allows(None, Role::Admin));
        let reader = Caller {
            name: "r".into(),
            role: Role::Reader,
        };
        assert!(allows(Some(&reader), Role::Reader));
        assert!(!allows(Some(&reader), Role::Analyst));
    }
}
