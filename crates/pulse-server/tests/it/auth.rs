//! Access control and TLS end to end: API keys and roles checked by the
//! server's layer, health left open, and a TLS server reached with a
//! self-signed certificate generated here.

use std::sync::Arc;

use pulse_proto::v1 as pb;
use pulse_proto::v1::account_service_client::AccountServiceClient;
use pulse_proto::v1::ingest_service_client::IngestServiceClient;
use pulse_server::{ApiKey, ApiKeys, AppState, Role, Tls};
use pulse_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::TestServer;
use crate::models::MemoryRegistry;

const READER_KEY: &str = "pulse_reader_0000000000000000000000000000";
const ADMIN_KEY: &str = "pulse_admin_11111111111111111111111111111";

/// A state whose keys are configured by hash, as the binary does.
async fn state_with_keys() -> AppState {
    let mut state = crate::state(
        Store::in_memory().await.unwrap(),
        Arc::new(MemoryRegistry::default()),
    );
    state.api_keys = ApiKeys::new(vec![
        ApiKey::from_sha256_hex(
            "dashboards",
            Role::Reader,
            &pulse_server::auth::hash_key(READER_KEY),
        )
        .unwrap(),
        ApiKey::from_sha256_hex("etl", Role::Admin, &pulse_server::auth::hash_key(ADMIN_KEY))
            .unwrap(),
    ])
    .unwrap();
    state
}

/// Sends `key` as a bearer token (`authorization`) or as `x-api-key`.
#[derive(Clone)]
struct WithKey {
    header: &'static str,
    value: String,
}

impl WithKey {
    fn bearer(key: &str) -> WithKey {
        WithKey {
            header: "authorization",
            value: format!("Bearer {key}"),
        }
    }

    fn x_api_key(key: &str) -> WithKey {
        WithKey {
            header: "x-api-key",
            value: key.to_string(),
        }
    }
}

impl Interceptor for WithKey {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let v: MetadataValue<_> = self.value.parse().unwrap();
        req.metadata_mut().insert(self.header, v);
        Ok(req)
    }
}

fn account(id: &str) -> pb::Record {
    pb::Record {
        entity: Some(pb::record::Entity::Account(pb::Account {
            id: id.into(),
            name: format!("Customer {id}"),
            segment: "smb".into(),
            industry: "retail".into(),
            region: "us-west".into(),
            plan: "core".into(),
            mrr: 300.0,
            seats: 12,
            owner: "dana".into(),
            start_date: "2025-01-01".into(),
            renewal_date: "2026-01-01".into(),
            status: "active".into(),
        })),
    }
}

async fn ingest_one(channel: Channel, key: Option<WithKey>) -> Result<pb::IngestSummary, Code> {
    let req = vec![pb::IngestRequest {
        records: vec![account("a-1")],
    }];
    let r = match key {
        Some(k) => {
            IngestServiceClient::with_interceptor(channel, k)
                .ingest(tokio_stream::iter(req))
                .await
        }
        None => {
            IngestServiceClient::new(channel)
                .ingest(tokio_stream::iter(req))
                .await
        }
    };
    r.map(|r| r.into_inner()).map_err(|s| s.code())
}

async fn get_account(channel: Channel, key: Option<WithKey>) -> Result<String, tonic::Status> {
    let req = pb::GetAccountRequest { id: "a-1".into() };
    let r = match key {
        Some(k) => {
            AccountServiceClient::with_interceptor(channel, k)
                .get_account(req)
                .await
        }
        None => AccountServiceClient::new(channel).get_account(req).await,
    };
    r.map(|r| r.into_inner().account.unwrap_or_default().id)
}

async fn health(channel: Channel) -> Result<HealthCheckResponse, tonic::Status> {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn keys_and_roles_are_enforced_and_health_stays_open() {
    let server = TestServer::start_with(state_with_keys().await).await;
    let ch = || server.channel.clone();

    // Health needs no key.
    let h = health(ch()).await.unwrap();
    assert_eq!(h.status, ServingStatus::Serving as i32);

    // No key, a wrong key: UNAUTHENTICATED, before any service runs.
    let s = get_account(ch(), None).await.unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
    assert!(s.message().contains("missing API key"), "{s:?}");
    let s = get_account(ch(), Some(WithKey::bearer("pulse_wrong")))
        .await
        .unwrap_err();
    assert_eq!(
        (s.code(), s.message()),
        (Code::Unauthenticated, "invalid API key")
    );
    assert_eq!(ingest_one(ch(), None).await, Err(Code::Unauthenticated));
    assert_eq!(
        ingest_one(
            ch(),
            Some(WithKey::x_api_key(&pulse_server::auth::hash_key(ADMIN_KEY)))
        )
        .await,
        Err(Code::Unauthenticated),
        "the hash is not the key"
    );

    // A reader may not ingest.
    assert_eq!(
        ingest_one(ch(), Some(WithKey::bearer(READER_KEY))).await,
        Err(Code::PermissionDenied)
    );
    // An admin may (either header).
    let summary = ingest_one(ch(), Some(WithKey::bearer(ADMIN_KEY)))
        .await
        .unwrap();
    assert_eq!((summary.received, summary.inserted), (1, 1));
    let summary = ingest_one(ch(), Some(WithKey::x_api_key(ADMIN_KEY)))
        .await
        .unwrap();
    assert_eq!(summary.updated, 1);

    // A reader may read accounts, with either header; so may an admin.
    for key in [
        WithKey::bearer(READER_KEY),
        WithKey::x_api_key(READER_KEY),
        WithKey::bearer(ADMIN_KEY),
    ] {
        assert_eq!(get_account(ch(), Some(key)).await.unwrap(), "a-1");
    }

    // Refused calls do not break the connection for the next ones.
    assert!(get_account(ch(), None).await.is_err());
    assert_eq!(
        health(ch()).await.unwrap().status,
        ServingStatus::Serving as i32
    );
    server.stop().await;
}

#[tokio::test]
async fn without_keys_access_control_is_off() {
    let server = TestServer::start(Store::in_memory().await.unwrap()).await;
    let summary = ingest_one(server.channel.clone(), None).await.unwrap();
    assert_eq!(summary.inserted, 1);
    assert_eq!(
        get_account(server.channel.clone(), None).await.unwrap(),
        "a-1"
    );
    server.stop().await;
}

#[tokio::test]
async fn tls_with_a_self_signed_certificate() {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = generated.cert.pem();
    let key_pem = generated.signing_key.serialize_pem();
    let tls = Tls::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = oneshot::channel::<()>();
    let state = state_with_keys().await;
    let handle = tokio::spawn(async move {
        pulse_server::serve(listener, state, Some(tls), async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });

    // A client trusting the certificate: health, then a reader call, over TLS.
    let tls_channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&cert_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect_lazy();
    assert_eq!(
        health(tls_channel.clone()).await.unwrap().status,
        ServingStatus::Serving as i32
    );
    let reader = Some(WithKey::bearer(READER_KEY));
    assert_eq!(
        get_account(tls_channel.clone(), reader)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound,
        "authenticated, and the store is empty"
    );

    // A plain-text client gets nothing.
    let plain = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    // (The server drops the connection: UNAVAILABLE or UNKNOWN "transport
    // error" depending on when the client notices.)
    let s = health(plain).await.unwrap_err();
    assert!(
        matches!(s.code(), Code::Unavailable | Code::Unknown),
        "{s:?}"
    );

    // Nor does a TLS client that does not trust the certificate.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let untrusting = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(other.cert.pem()))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect_lazy();
    assert!(health(untrusting).await.is_err());

    let _ = tx.send(());
    handle.await.unwrap();
}

#[test]
fn a_certificate_with_the_wrong_key_is_refused() {
    let a = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let b = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let err = Tls::from_pem(
        a.cert.pem().as_bytes(),
        b.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(err, pulse_server::TlsError::Invalid(_)), "{err:?}");
    // The key where the certificate should be, and the other way round.
    let key = a.signing_key.serialize_pem();
    let cert = a.cert.pem();
    assert_eq!(
        Tls::from_pem(key.as_bytes(), key.as_bytes()).unwrap_err(),
        pulse_server::TlsError::NoCertificate
    );
    assert_eq!(
        Tls::from_pem(cert.as_bytes(), cert.as_bytes()).unwrap_err(),
        pulse_server::TlsError::NoPrivateKey
    );
}
