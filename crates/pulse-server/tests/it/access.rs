//! Every RPC x every role against the one access table
//! (`pulse_server::auth::ACCESS_RULES` and `FIELD_RULES`), through the real
//! server; the table in docs/grpc-api.md is generated from the same rules.
//! Also: promotion through Train needs admin, RunScoring's as_of bounds,
//! who may change an outreach record, and reflection in both versions.

use std::str::FromStr;
use std::sync::Arc;

use prost::Message;
use pulse_proto::v1 as pb;
use pulse_server::auth::{Access, FIELD_RULES, access_table, required_access};
use pulse_server::{ApiKey, ApiKeys, AppState, Role};
use pulse_store::Store;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use crate::models::MemoryRegistry;
use crate::{Raw, TestServer};

const KEYS: [(&str, Role, &str); 4] = [
    (
        "rita",
        Role::Reader,
        "pulse_reader_rita_000000000000000000000",
    ),
    (
        "rob",
        Role::Reader,
        "pulse_reader_rob_0000000000000000000000",
    ),
    (
        "ana",
        Role::Analyst,
        "pulse_analyst_ana_000000000000000000000",
    ),
    (
        "adm",
        Role::Admin,
        "pulse_admin_adm_00000000000000000000000",
    ),
];

fn key_of(name: &str) -> &'static str {
    KEYS.iter().find(|k| k.0 == name).unwrap().2
}

async fn state_with_roles(store: Store) -> AppState {
    let mut state = crate::state(store, Arc::new(MemoryRegistry::default()));
    state.api_keys = ApiKeys::new(
        KEYS.iter()
            .map(|(n, r, k)| ApiKey::from_key(*n, *r, k))
            .collect(),
    )
    .unwrap();
    state
}

/// `/package.Service/Method` of every Pulse RPC, with (client, server)
/// streaming.
fn methods() -> Vec<(String, bool, bool)> {
    let fds = prost_types::FileDescriptorSet::decode(pulse_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = Vec::new();
    for f in &fds.file {
        for s in &f.service {
            for m in &s.method {
                out.push((
                    format!("/{}.{}/{}", f.package(), s.name(), m.name()),
                    m.client_streaming(),
                    m.server_streaming(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Calls `path` with an empty request message (every field at its default)
/// and `key`; the status it ends with (`Ok` for success).
async fn call(
    channel: Channel,
    (path, client_streaming, server_streaming): &(String, bool, bool),
    key: Option<&str>,
    message: Vec<u8>,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_str(path).unwrap();
    let codec = tonic_prost::ProstCodec::<Raw, ()>::default();
    let mut req = tonic::Request::new(Raw(message));
    if let Some(k) = key {
        req.metadata_mut().insert("x-api-key", k.parse().unwrap());
    }
    match (client_streaming, server_streaming) {
        (false, false) => grpc.unary(req, path, codec).await.map(|_| ()),
        (true, false) => grpc
            .client_streaming(req.map(|m| tokio_stream::iter(vec![m])), path, codec)
            .await
            .map(|_| ()),
        (false, true) => {
            let mut s = grpc.server_streaming(req, path, codec).await?.into_inner();
            while s.message().await?.is_some() {}
            Ok(())
        }
        (true, true) => unreachable!("Pulse has no bidirectional RPC"),
    }
}

fn refused(code: Code) -> bool {
    matches!(code, Code::Unauthenticated | Code::PermissionDenied)
}

#[tokio::test]
async fn every_rpc_for_every_role_follows_the_access_table() {
    let server =
        TestServer::start_with(state_with_roles(Store::in_memory().await.unwrap()).await).await;
    let callers: [(Option<Role>, Option<&str>); 4] = [
        (None, None),
        (Some(Role::Reader), Some(key_of("rita"))),
        (Some(Role::Analyst), Some(key_of("ana"))),
        (Some(Role::Admin), Some(key_of("adm"))),
    ];
    let methods = methods();
    assert!(methods.len() >= 30, "{}", methods.len());
    let mut checked = 0;
    for m in &methods {
        let need = required_access(&m.0);
        for (role, key) in callers {
            let got = call(server.channel.clone(), m, key, Vec::new())
                .await
                .err()
                .map(|s| s.code());
            let want = match (need, role) {
                (Access::Open, _) => None,
                (Access::Role(_), None) => Some(Code::Unauthenticated),
                (Access::Role(n), Some(r)) if r < n => Some(Code::PermissionDenied),
                _ => None,
            };
            match want {
                Some(code) => assert_eq!(got, Some(code), "{} as {role:?}", m.0),
                None => assert!(
                    got.is_none_or(|c| !refused(c)),
                    "{} as {role:?}: {got:?}",
                    m.0
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, methods.len() * 4);

    // The field rules: promoting needs admin, whatever the path's own rule.
    for (path, field, need) in FIELD_RULES {
        let m = methods.iter().find(|m| m.0 == *path).unwrap();
        let message = match *path {
            "/pulse.v1.ModelService/Train" => pb::TrainRequest {
                promote: true,
                ..Default::default()
            }
            .encode_to_vec(),
            _ => pb::TrainSentimentRequest {
                promote: true,
                from_store: true,
                ..Default::default()
            }
            .encode_to_vec(),
        };
        for (role, key) in callers.iter().skip(1) {
            let got = call(server.channel.clone(), m, *key, message.clone()).await;
            if role.unwrap() < *need {
                let s = got.unwrap_err();
                assert_eq!(s.code(), Code::PermissionDenied, "{path} as {role:?}");
                // Refused by the field's rule where the path's allows the role.
                if matches!(required_access(path), Access::Role(n) if n <= role.unwrap()) {
                    assert!(s.message().starts_with(&format!("{field}: ")), "{s:?}");
                }
            } else {
                assert!(
                    got.as_ref().err().is_none_or(|s| !refused(s.code())),
                    "{path} as {role:?}: {got:?}"
                );
            }
        }
    }
    server.stop().await;
}

#[test]
fn the_documented_table_is_the_code() {
    let paths: Vec<String> = methods().into_iter().map(|m| m.0).collect();
    let table = access_table(&paths);
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grpc-api.md"
    ))
    .unwrap();
    let (start, end) = ("<!-- access-table -->\n", "<!-- /access-table -->");
    let from = doc.find(start).expect("the access-table marker") + start.len();
    let to = doc.find(end).expect("the end marker");
    assert_eq!(
        &doc[from..to],
        table,
        "docs/grpc-api.md's access table differs from the code; paste:\n{table}"
    );
}

#[tokio::test]
async fn run_scoring_refuses_days_before_the_data() {
    let store = Store::in_memory().await.unwrap();
    let server = TestServer::start(store.clone()).await;
    let mut client = pb::scoring_service_client::ScoringServiceClient::new(server.channel.clone());
    crate::models::ingest_synthetic_until(&store, 30, 6, crate::today() - 1).await;
    for as_of in ["2001-01-01", "1900-01-01"] {
        let s = client
            .run_scoring(pb::RunScoringRequest {
                as_of: as_of.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{as_of}: {s:?}");
        assert!(
            s.message().starts_with("as_of: ") && s.message().contains("first data day"),
            "{s:?}"
        );
    }
    assert_eq!(
        store.score_runs(10).await.unwrap().len(),
        0,
        "nothing stored"
    );
    server.stop().await;
}

fn outreach(id: &str, who: &str) -> pb::RecordOutreachRequest {
    pb::RecordOutreachRequest {
        id: id.into(),
        account_id: "a-1".into(),
        play: "Champion call".into(),
        who: who.into(),
        contacted_at: String::new(),
        channel: "call".into(),
        outcome: "reached".into(),
        note: String::new(),
    }
}

#[tokio::test]
async fn outreach_is_recorded_as_the_key_and_changed_only_by_its_owner_or_an_analyst() {
    let store = Store::in_memory().await.unwrap();
    let account = pulse_core::Account {
        id: "a-1".into(),
        name: "Customer a-1".into(),
        segment: pulse_core::Segment::Smb,
        industry: "retail".into(),
        region: "us".into(),
        plan: "core".into(),
        mrr: 300.0,
        seats: 12,
        owner: "dana".into(),
        start_date: crate::today() - 400,
        renewal_date: None,
        status: pulse_core::AccountStatus::Active,
    };
    let out = store
        .ingest(vec![(0, pulse_core::Record::Account(account))])
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{out:?}");
    let server = TestServer::start_with(state_with_roles(store.clone()).await).await;
    let client = |name: &str| {
        let key: tonic::metadata::MetadataValue<_> = key_of(name).parse().unwrap();
        pb::list_service_client::ListServiceClient::with_interceptor(
            server.channel.clone(),
            move |mut r: tonic::Request<()>| {
                r.metadata_mut().insert("x-api-key", key.clone());
                Ok(r)
            },
        )
    };
    // Rita records; who comes from her key.
    let r = client("rita")
        .record_outreach(outreach("o-1", ""))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.updated);
    assert_eq!(store.outreach("o-1").await.unwrap().unwrap().owner, "rita");
    // She may not record as someone else.
    let s = client("rita")
        .record_outreach(outreach("o-2", "dana"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    assert!(s.message().starts_with("who: "), "{s:?}");
    // Rob may not overwrite Rita's record.
    let s = client("rob")
        .record_outreach(outreach("o-1", ""))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    assert!(s.message().contains("'rita'"), "{s:?}");
    assert_eq!(store.outreach("o-1").await.unwrap().unwrap().owner, "rita");
    // Rita may update her own; an analyst may change anyone's.
    assert!(
        client("rita")
            .record_outreach(outreach("o-1", "rita"))
            .await
            .unwrap()
            .into_inner()
            .updated
    );
    assert!(
        client("ana")
            .record_outreach(outreach("o-1", "dana"))
            .await
            .unwrap()
            .into_inner()
            .updated
    );
    assert_eq!(store.outreach("o-1").await.unwrap().unwrap().owner, "dana");
    server.stop().await;
}

/// The services a reflection client lists.
async fn reflected_services(channel: Channel, v1alpha: bool) -> Vec<String> {
    use tonic_reflection::pb::{v1, v1alpha as alpha};
    if v1alpha {
        let mut c = alpha::server_reflection_client::ServerReflectionClient::new(channel);
        let req = alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        };
        let mut s = c
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        match s.message().await.unwrap().unwrap().message_response {
            Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(l)) => {
                l.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("{other:?}"),
        }
    } else {
        let mut c = v1::server_reflection_client::ServerReflectionClient::new(channel);
        let req = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let mut s = c
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        match s.message().await.unwrap().unwrap().message_response {
            Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(l)) => {
                l.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn reflection_speaks_v1_and_v1alpha_and_describes_health() {
    let server = TestServer::start(Store::in_memory().await.unwrap()).await;
    for v1alpha in [false, true] {
        let services = reflected_services(server.channel.clone(), v1alpha).await;
        for want in ["grpc.health.v1.Health", "pulse.v1.ScoringService"] {
            assert!(
                services.iter().any(|s| s == want),
                "v1alpha={v1alpha}: {services:?}"
            );
        }
    }
    server.stop().await;
}
