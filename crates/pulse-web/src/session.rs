//! Sign-in sessions and CSRF tokens.
//!
//! A user signs in with an API key. The key is checked once, against the
//! same [`ApiKeys`] the gRPC server uses, and never stored: the session
//! cookie carries the key's name, its role, an expiry and a random nonce,
//! signed with HMAC-SHA256 under a secret made at start (so every session
//! ends when the server restarts). The cookie is `HttpOnly`,
//! `SameSite=Strict` and `Path=/`.
//!
//! Every form carries a CSRF token: the HMAC of a nonce held in a separate
//! `SameSite=Strict` cookie, so a form posted from another site (which
//! cannot read the token and does not send the cookie) is refused.

use std::time::Duration;

use hmac::{Hmac, Mac};
use pulse_app::access::{ApiKeys, Caller, Role};
use sha2::Sha256;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pulse_session";
/// The CSRF nonce cookie's name.
pub const CSRF_COOKIE: &str = "pulse_csrf";
/// How long a session lasts by default.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The signing secret and the session lifetime.
#[derive(Clone)]
pub struct Signer {
    secret: [u8; 32],
    ttl: Duration,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A random nonce, hex.
pub fn nonce() -> String {
    hex(&rand::random::<[u8; 16]>())
}

impl Signer {
    /// A signer with a fresh random secret.
    pub fn random(ttl: Duration) -> Signer {
        Signer {
            secret: rand::random(),
            ttl,
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn mac(&self, parts: &[&str]) -> String {
        let mut m =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        for p in parts {
            m.update(p.as_bytes());
            m.update(b"|");
        }
        hex(&m.finalize().into_bytes())
    }

    fn mac_ok(&self, parts: &[&str], presented: &str) -> bool {
        let mut m =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        for p in parts {
            m.update(p.as_bytes());
            m.update(b"|");
        }
        match unhex(presented) {
            Some(tag) => m.verify_slice(&tag).is_ok(),
            None => false,
        }
    }

    /// The session cookie's value for `caller`, valid until `now + ttl`.
    pub fn session(&self, caller: &Caller, now: i64) -> String {
        let name = hex(caller.name.as_bytes());
        let role = caller.role.as_str();
        let expires = (now + self.ttl.as_secs() as i64).to_string();
        let n = nonce();
        let mac = self.mac(&["session", &name, role, &expires, &n]);
        format!("{name}.{role}.{expires}.{n}.{mac}")
    }

    /// The caller a session cookie names, when its signature holds, it has
    /// not expired, and `keys` still has a key of that name and role.
    pub fn verify_session(&self, value: &str, now: i64, keys: &ApiKeys) -> Option<Caller> {
        let parts: Vec<&str> = value.split('.').collect();
        let [name, role, expires, n, mac] = parts.as_slice() else {
            return None;
        };
        if !self.mac_ok(&["session", name, role, expires, n], mac) {
            return None;
        }
        if expires.parse::<i64>().ok()? <= now {
            return None;
        }
        let name = String::from_utf8(unhex(name)?).ok()?;
        let role: Role = role.parse().ok()?;
        keys.by_name(&name)
            .filter(|k| k.role == role)
            .map(|k| Caller {
                name: k.name.clone(),
                role: k.role,
            })
    }

    /// The CSRF token for a nonce cookie's value.
    pub fn csrf_token(&self, nonce: &str) -> String {
        self.mac(&["csrf", nonce])
    }

    /// Whether `token` is the CSRF token of `nonce`.
    pub fn csrf_ok(&self, nonce: &str, token: &str) -> bool {
        !nonce.is_empty() && self.mac_ok(&["csrf", nonce], token)
    }
}

/// The value of cookie `name` in a `Cookie` header, if present.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/`, and
/// `Max-Age` (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: Duration) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_app::access::ApiKey;

    fn keys() -> ApiKeys {
        ApiKeys::new(vec![
            ApiKey::from_key("ana", Role::Reader, "reader-key-0123456789abcdef"),
            ApiKey::from_key("boss", Role::Admin, "admin-key-0123456789abcdef"),
        ])
        .unwrap()
    }

    #[test]
    fn a_session_round_trips_and_names_the_key() {
        let s = Signer::random(Duration::from_secs(60));
        let c = Caller {
            name: "ana".into(),
            role: Role::Reader,
        };
        let v = s.session(&c, 1_000);
        assert!(!v.contains("reader-key"), "{v}");
        assert_eq!(s.verify_session(&v, 1_001, &keys()), Some(c));
    }

    #[test]
    fn tampered_expired_or_revoked_sessions_are_refused() {
        let s = Signer::random(Duration::from_secs(60));
        let c = Caller {
            name: "ana".into(),
            role: Role::Reader,
        };
        let v = s.session(&c, 1_000);
        assert_eq!(s.verify_session(&v, 1_060, &keys()), None, "expired");
        let raised = v.replacen(".reader.", ".admin.", 1);
        assert_eq!(
            s.verify_session(&raised, 1_001, &keys()),
            None,
            "role raised"
        );
        let other = Signer::random(Duration::from_secs(60));
        assert_eq!(
            other.verify_session(&v, 1_001, &keys()),
            None,
            "other secret"
        );
        let only_boss = ApiKeys::new(vec![ApiKey::from_key(
            "boss",
            Role::Admin,
            "admin-key-0123456789abcdef",
        )])
        .unwrap();
        assert_eq!(s.verify_session(&v, 1_001, &only_boss), None, "key removed");
        assert_eq!(s.verify_session("garbage", 1_001, &keys()), None);
    }

    #[test]
    fn csrf_tokens_belong_to_their_nonce() {
        let s = Signer::random(DEFAULT_SESSION_TTL);
        let t = s.csrf_token("n1");
        assert!(s.csrf_ok("n1", &t));
        assert!(!s.csrf_ok("n2", &t));
        assert!(!s.csrf_ok("", &s.csrf_token("")));
        assert!(!s.csrf_ok("n1", "zz"));
    }

    #[test]
    fn cookies_are_read_from_every_header() {
        let mut h = http::HeaderMap::new();
        h.append(http::header::COOKIE, "a=1; pulse_csrf=xyz".parse().unwrap());
        h.append(http::header::COOKIE, "pulse_session=s".parse().unwrap());
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("s"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
