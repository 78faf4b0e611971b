//! Access control: API keys with roles, checked by a tower layer in front of
//! every service.
//!
//! A key is configured by its SHA-256 (lower-case hex), never in plain text,
//! and belongs to a [`Role`]: `reader` < `analyst` < `admin`, each allowed
//! everything the one before it is. A caller sends its key as
//! `authorization: Bearer <key>` or `x-api-key: <key>`; the [`AuthLayer`]
//! hashes it, compares the hash with every configured one in constant time,
//! and checks the key's role against the one the request path needs
//! ([`ACCESS_RULES`], the one table of who may call what). A call without a
//! valid key is answered UNAUTHENTICATED, a call beyond its key's role
//! PERMISSION_DENIED, before any service sees it. Health and reflection stay
//! open.
//!
//! With no key configured ([`ApiKeys::is_empty`]) access control is off and
//! every call is let through: the development default; `serve` logs a
//! warning when it starts that way.
//!
//! Keys are never logged; the name of the key behind a call is (it is put in
//! the `caller` span around the call, and in [`Caller`] among the request's
//! extensions).

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use http::{HeaderMap, Request, Response};
use tonic::Status;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;
use tracing::instrument::Instrumented;

pub use pulse_app::access::{
    ACCESS_RULES, Access, ApiKey, ApiKeys, AuthError, Caller, Role, hash_key, required_access,
};

/// Request fields that raise what a call needs: a call to the path with the
/// field set (true) needs the role, whatever the path's own rule says. The
/// service checks them with [`require_field`]; the access table in
/// docs/grpc-api.md lists them with [`ACCESS_RULES`].
pub const FIELD_RULES: &[(&str, &str, Role)] = &[
    // Promoting at once puts a model into service: as PromoteModel does.
    ("/pulse.v1.ModelService/Train", "promote", Role::Admin),
    (
        "/pulse.v1.ModelService/TrainSentiment",
        "promote",
        Role::Admin,
    ),
];

/// The caller a request was let through with (`None`: access control off).
pub fn caller<T>(request: &tonic::Request<T>) -> Option<&Caller> {
    request.extensions().get::<Caller>()
}

/// Checks the [`FIELD_RULES`] entry for `field` of `path` against the
/// request's caller: PERMISSION_DENIED naming the field when the caller's
/// role is below the rule's.
pub fn require_field<T>(
    request: &tonic::Request<T>,
    path: &str,
    field: &str,
) -> Result<(), Status> {
    let Some((_, _, need)) = FIELD_RULES
        .iter()
        .find(|(p, f, _)| *p == path && *f == field)
    else {
        return Ok(());
    };
    match caller(request) {
        Some(c) if c.role < *need => Err(Status::permission_denied(format!(
            "{field}: key '{}' has role {}; setting {field} on {path} needs {need}",
            c.name, c.role
        ))),
        _ => Ok(()),
    }
}

/// The access table as Markdown, generated from [`ACCESS_RULES`] and
/// [`FIELD_RULES`] for every method of `methods` (`/package.Service/Method`
/// paths): the table docs/grpc-api.md shows (a test keeps the two equal).
pub fn access_table(methods: &[String]) -> String {
    let mut out = String::from("| RPC | needs |\n|---|---|\n");
    for path in methods {
        let need = match required_access(path) {
            Access::Open => "open".to_string(),
            Access::Role(r) => r.to_string(),
        };
        let extra: Vec<String> = FIELD_RULES
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, f, r)| format!("; {r} with `{f}` set"))
            .collect();
        out.push_str(&format!(
            "| `{}` | {need}{} |\n",
            path.trim_start_matches('/'),
            extra.concat()
        ));
    }
    out
}

/// Decides a call to `path` with request `headers` under `keys`: `Ok(None)`
/// lets it through anonymously (open path, or access control off),
/// `Ok(Some(key))` with that key, `Err` is the status to answer with.
pub fn authorize<'k>(
    keys: &'k ApiKeys,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<&'k ApiKey>, Status> {
    if keys.is_empty() {
        return Ok(None);
    }
    let need = match required_access(path) {
        Access::Open => return Ok(None),
        Access::Role(r) => r,
    };
    let Some(presented) = presented_key(headers) else {
        return Err(Status::unauthenticated(
            "missing API key: send `authorization: Bearer <key>` or `x-api-key: <key>`",
        ));
    };
    let Some(key) = keys.verify(presented) else {
        return Err(Status::unauthenticated("invalid API key"));
    };
    if key.role < need {
        return Err(Status::permission_denied(format!(
            "key '{}' has role {}; {path} needs {need}",
            key.name, key.role
        )));
    }
    Ok(Some(key))
}

/// The key a request carries: `authorization: Bearer <key>` (the scheme in
/// any case), else `x-api-key: <key>`. A value that is not visible ASCII
/// counts as no key.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    bearer
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|k| !k.is_empty())
}

/// The tower layer that checks every request against [`ApiKeys`] and
/// [`ACCESS_RULES`]; applied to the whole server
/// (`Server::builder().layer(AuthLayer::new(keys))`).
#[derive(Debug, Clone)]
pub struct AuthLayer {
    keys: ApiKeys,
}

impl AuthLayer {
    pub fn new(keys: ApiKeys) -> AuthLayer {
        AuthLayer { keys }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            keys: self.keys.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around the server's routes.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    keys: ApiKeys,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Instrumented<S::Future>, Ready<Result<Response<ResBody>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let path = req.uri().path();
        match authorize(&self.keys, path, req.headers()) {
            Ok(None) => Either::Left(self.inner.call(req).instrument(tracing::Span::none())),
            Ok(Some(key)) => {
                let span = tracing::info_span!("caller", key_name = %key.name, role = %key.role);
                let caller = Caller {
                    name: key.name.clone(),
                    role: key.role,
                };
                req.extensions_mut().insert(caller);
                Either::Left(self.inner.call(req).instrument(span))
            }
            Err(status) => {
                // The path and the outcome only: never the presented key.
                tracing::info!(rpc = path, code = ?status.code(), "call refused");
                Either::Right(ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn need(path: &str) -> Access {
        required_access(path)
    }

    const READER: Access = Access::Role(Role::Reader);
    const ANALYST: Access = Access::Role(Role::Analyst);
    const ADMIN: Access = Access::Role(Role::Admin);

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Reader < Role::Analyst && Role::Analyst < Role::Admin);
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!(
            "root".parse::<Role>(),
            Err(AuthError::UnknownRole("root".into()))
        );
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn the_path_table() {
        let cases = [
            ("/grpc.health.v1.Health/Check", Access::Open),
            ("/grpc.health.v1.Health/Watch", Access::Open),
            (
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                Access::Open,
            ),
            (
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                Access::Open,
            ),
            ("/pulse.v1.ScoringService/Score", READER),
            ("/pulse.v1.ScoringService/RunScoring", ANALYST),
            ("/pulse.v1.ScoringService/ListScoreRuns", READER),
            ("/pulse.v1.AccountService/GetAccount", READER),
            ("/pulse.v1.AccountService/ListAccounts", READER),
            ("/pulse.v1.ListService/GetRiskList", READER),
            ("/pulse.v1.ListService/GetPortfolio", READER),
            ("/pulse.v1.ListService/RecordOutreach", READER),
            ("/pulse.v1.ListService/GenerateLists", ANALYST),
            ("/pulse.v1.SentimentService/Analyze", READER),
            ("/pulse.v1.ModelService/Train", ANALYST),
            ("/pulse.v1.ModelService/GetTrainJob", ANALYST),
            ("/pulse.v1.ModelService/ListModels", ANALYST),
            ("/pulse.v1.ModelService/GetModelCard", ANALYST),
            ("/pulse.v1.ModelService/TrainSentiment", ANALYST),
            ("/pulse.v1.ModelService/GetDrift", ANALYST),
            ("/pulse.v1.ForecastService/Forecast", ANALYST),
            ("/pulse.v1.ReportService/WeeklyReport", ANALYST),
            ("/pulse.v1.ModelService/PromoteModel", ADMIN),
            ("/pulse.v1.ModelService/PromoteSentiment", ADMIN),
            ("/pulse.v1.IngestService/Ingest", ADMIN),
            // Deny by default: anything not listed needs admin.
            ("/pulse.v1.ConfigService/Reload", ADMIN),
            ("/pulse.v1.SentimentService/Backfill", ADMIN),
            ("/pulse.v1.SentimentService/AnalyzeEverything", ADMIN),
            ("/pulse.v2.AccountService/GetAccount", ADMIN),
            ("/grpc.healthy/Check", ADMIN),
            ("/pulse.v1.AccountServiceX/GetAccount", ADMIN),
            ("/", ADMIN),
            ("", ADMIN),
        ];
        for (path, want) in cases {
            assert_eq!(need(path), want, "{path}");
        }
    }

    #[test]
    fn every_rule_is_reachable() {
        // No rule is hidden behind an earlier one: each pattern (with `*`
        // replaced by a method name) is decided by its own rule.
        for (i, (pattern, access)) in ACCESS_RULES.iter().enumerate() {
            let path = pattern.replace('*', "X");
            let first = ACCESS_RULES
                .iter()
                .position(|(p, _)| match p.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => path == *p,
                })
                .unwrap();
            assert_eq!(first, i, "{pattern} is shadowed");
            assert_eq!(need(&path), *access);
        }
    }

    const KEY: &str = "pulse_0123456789abcdef";

    #[test]
    fn hashes_are_sha256_hex_and_checked() {
        // sha256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let hex = hash_key(KEY);
        let k = ApiKey::from_sha256_hex("ops", Role::Admin, &hex).unwrap();
        assert_eq!(k, ApiKey::from_key("ops", Role::Admin, KEY));
        let upper = ApiKey::from_sha256_hex("ops", Role::Admin, &hex.to_uppercase()).unwrap();
        assert_eq!(upper.hash, k.hash);
        for bad in ["", "abc", &hex[..63], &format!("{}g", &hex[..63]), KEY] {
            assert_eq!(
                ApiKey::from_sha256_hex("ops", Role::Admin, bad),
                Err(AuthError::BadHash(bad.to_string()))
            );
        }
        assert_eq!(
            ApiKey::from_sha256_hex(" ", Role::Admin, &hex),
            Err(AuthError::EmptyName)
        );
        // The Debug output shows neither the key nor its hash.
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&hex[..8]) && dbg.contains("ops"), "{dbg}");
    }

    #[test]
    fn verify_finds_the_key_by_its_hash() {
        let keys = ApiKeys::new(vec![
            ApiKey::from_key("a", Role::Reader, "key-a"),
            ApiKey::from_key("b", Role::Admin, "key-b"),
        ])
        .unwrap();
        assert_eq!(keys.verify("key-a").map(|k| k.name.as_str()), Some("a"));
        assert_eq!(keys.verify("key-b").map(|k| k.role), Some(Role::Admin));
        assert!(keys.verify("key-c").is_none());
        assert!(keys.verify("").is_none());
        assert!(keys.verify(&hash_key("key-a")).is_none());
    }

    #[test]
    fn duplicate_names_and_hashes_are_refused() {
        let a = ApiKey::from_key("a", Role::Reader, "k1");
        assert_eq!(
            ApiKeys::new(vec![a.clone(), ApiKey::from_key("a", Role::Admin, "k2")]).unwrap_err(),
            AuthError::DuplicateName("a".into())
        );
        assert_eq!(
            ApiKeys::new(vec![a, ApiKey::from_key("b", Role::Admin, "k1")]).unwrap_err(),
            AuthError::DuplicateHash("a".into(), "b".into())
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn authorize_decides_by_key_and_path() {
        let keys = ApiKeys::new(vec![
            ApiKey::from_key("viewer", Role::Reader, "r-key"),
            ApiKey::from_key("ops", Role::Admin, "a-key"),
        ])
        .unwrap();
        let ingest = "/pulse.v1.IngestService/Ingest";
        let account = "/pulse.v1.AccountService/GetAccount";
        let code = |path: &str, h: &HeaderMap| authorize(&keys, path, h).map_err(|s| s.code());
        let name = |path: &str, h: &HeaderMap| {
            authorize(&keys, path, h)
                .unwrap()
                .map(|k| k.name.clone())
                .unwrap_or_default()
        };
        use tonic::Code;
        assert_eq!(code(account, &headers(&[])), Err(Code::Unauthenticated));
        assert_eq!(
            code(account, &headers(&[("x-api-key", "nope")])),
            Err(Code::Unauthenticated)
        );
        assert_eq!(
            code(account, &headers(&[("authorization", "Basic r-key")])),
            Err(Code::Unauthenticated)
        );
        assert_eq!(
            code(account, &headers(&[("authorization", "Bearer ")])),
            Err(Code::Unauthenticated)
        );
        assert_eq!(
            name(account, &headers(&[("authorization", "Bearer r-key")])),
            "viewer"
        );
        assert_eq!(
            name(account, &headers(&[("authorization", "bearer  r-key ")])),
            "viewer"
        );
        assert_eq!(name(account, &headers(&[("x-api-key", "r-key")])), "viewer");
        assert_eq!(
            code(ingest, &headers(&[("x-api-key", "r-key")])),
            Err(Code::PermissionDenied)
        );
        assert_eq!(name(ingest, &headers(&[("x-api-key", "a-key")])), "ops");
        // Open paths need no key; a wrong one is not even looked at.
        let health = "/grpc.health.v1.Health/Check";
        assert!(authorize(&keys, health, &headers(&[])).unwrap().is_none());
        let wrong = headers(&[("x-api-key", "nope")]);
        assert!(authorize(&keys, health, &wrong).unwrap().is_none());
        // The refusal never echoes the presented key.
        let s = authorize(&keys, ingest, &headers(&[("x-api-key", "r-key")])).unwrap_err();
        assert!(!s.message().contains("r-key"), "{}", s.message());
    }

    #[test]
    fn no_keys_means_access_control_is_off() {
        let keys = ApiKeys::default();
        assert!(keys.is_empty());
        let h = headers(&[]);
        assert!(
            authorize(&keys, "/pulse.v1.IngestService/Ingest", &h)
                .unwrap()
                .is_none()
        );
    }

    /// An inner service that answers with the caller it was handed.
    #[derive(Clone)]
    struct Echo;

    impl Service<Request<()>> for Echo {
        type Response = Response<String>;
        type Error = std::convert::Infallible;
        type Future = Ready<Result<Response<String>, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request<()>) -> Self::Future {
            let caller = req.extensions().get::<Caller>().cloned();
            ready(Ok(Response::new(format!("{caller:?}"))))
        }
    }

    #[tokio::test]
    async fn the_layer_passes_the_caller_on_or_answers_with_a_grpc_status() {
        let keys = ApiKeys::new(vec![ApiKey::from_key("viewer", Role::Reader, "r-key")]).unwrap();
        let mut svc = AuthLayer::new(keys).layer(Echo);
        let req = |path: &str, key: Option<&str>| {
            let mut b = Request::builder().uri(path);
            if let Some(k) = key {
                b = b.header("x-api-key", k);
            }
            b.body(()).unwrap()
        };
        let ok = svc
            .call(req("/pulse.v1.AccountService/GetAccount", Some("r-key")))
            .await
            .unwrap();
        assert_eq!(ok.body(), "Some(Caller { name: \"viewer\", role: Reader })");
        let open = svc
            .call(req("/grpc.health.v1.Health/Check", None))
            .await
            .unwrap();
        assert_eq!(open.body(), "None");
        let refused = svc
            .call(req("/pulse.v1.IngestService/Ingest", Some("r-key")))
            .await
            .unwrap();
        // A gRPC "trailers-only" answer: HTTP 200, the status in the headers,
        // and the inner service never called (empty body).
        assert_eq!(refused.status(), http::StatusCode::OK);
        assert_eq!(refused.headers()["grpc-status"], "7");
        assert_eq!(refused.headers()["content-type"], "application/grpc");
        assert!(refused.body().is_empty());
        let refused = svc
            .call(req("/pulse.v1.AccountService/GetAccount", None))
            .await
            .unwrap();
        assert_eq!(refused.headers()["grpc-status"], "16");
    }
}
