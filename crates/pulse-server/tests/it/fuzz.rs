//! Fuzzing every RPC family through the real server: request messages built
//! from the protos' own descriptors, field by field, with hostile values
//! (empty and 100 KB strings, control characters, dates from year -262143 to
//! 9999, NaN, infinities, 1e308, extreme integers, nested and repeated
//! fields), sent by a real client to a server holding a small base and
//! trained models. Every answer must be success or a defined status code
//! (never INTERNAL, UNKNOWN or a dropped stream), and health must stay
//! SERVING.
//!
//! proptest drives the cases (its seed is the message); CI runs
//! `PULSE_FUZZ_CASES` cases per family (default 40); a longer run:
//! `PULSE_FUZZ_CASES=5000 cargo test --test it fuzz:: -- --nocapture`.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use proptest::test_runner::{Config, TestRunner};
use prost::Message;
use prost::bytes::BufMut;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use pulse_core::rng::SplitMix64;
use pulse_store::Store;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::models::{MemoryRegistry, ingest_synthetic_until};
use crate::scoring::{train, wait_ready};
use crate::today;
use crate::{Raw, TestServer};

/// Every message type of the Pulse protos, by full name (`.pulse.v1.X`).
struct Schema {
    messages: HashMap<String, DescriptorProto>,
    /// (service, path, input type, client streaming, server streaming)
    methods: Vec<(String, String, String, bool, bool)>,
}

fn schema() -> Schema {
    let fds = FileDescriptorSet::decode(pulse_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut messages = HashMap::new();
    let mut methods = Vec::new();
    fn walk(prefix: &str, m: &DescriptorProto, out: &mut HashMap<String, DescriptorProto>) {
        let name = format!("{prefix}.{}", m.name());
        for n in &m.nested_type {
            walk(&name, n, out);
        }
        out.insert(name, m.clone());
    }
    for f in &fds.file {
        let prefix = format!(".{}", f.package());
        for m in &f.message_type {
            walk(&prefix, m, &mut messages);
        }
        for s in &f.service {
            for m in &s.method {
                methods.push((
                    s.name().to_string(),
                    format!("/{}.{}/{}", f.package(), s.name(), m.name()),
                    m.input_type().to_string(),
                    m.client_streaming(),
                    m.server_streaming(),
                ));
            }
        }
    }
    Schema { messages, methods }
}

const STRINGS: &[&str] = &[
    "",
    " ",
    "a-1",
    "acct-000001",
    "churn",
    "expansion",
    "sentiment",
    "churn-v1",
    "smb",
    "segment",
    "owner",
    "2026-11-23",
    "2026-W48",
    "2026-Q4",
    "9999-Q4",
    "0000-W01",
    "-262143-01-01",
    "+262142-12-31",
    "9999-12-31",
    "1900-01-01",
    "2026-02-30",
    "2026-03-01T14:05:00Z",
    "NaN",
    "inf",
    "1e308",
    "-1",
    "\u{0}\u{7}\u{1b}[31m",
    "é😀\u{202e}",
    "'; DROP TABLE accounts; --",
    "../../etc/passwd",
    "text,label\nnice,positive\nbad,negative\n",
    "call",
    "reached",
];

struct Gen {
    rng: SplitMix64,
}

impl Gen {
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.rng.below(xs.len())]
    }

    fn string(&mut self) -> String {
        match self.rng.below(10) {
            0 => "x".repeat(self.pick(&[129, 1_001, 100_000])),
            1 => (0..self.rng.below(40))
                .map(|_| char::from(32 + self.rng.below(95) as u8))
                .collect(),
            _ => self.pick(STRINGS).to_string(),
        }
    }

    fn int(&mut self) -> i64 {
        self.pick(&[
            0,
            1,
            -1,
            2,
            3,
            7,
            61,
            1_000,
            200_001,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
            u32::MAX as i64,
        ])
    }

    fn double(&mut self) -> f64 {
        self.pick(&[
            0.0,
            -0.0,
            0.5,
            1.0,
            -1.0,
            300.0,
            1e12,
            1e308,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ])
    }

    /// An encoded message of type `name`, `depth` levels deep at most.
    fn message(&mut self, schema: &Schema, name: &str, depth: u32, out: &mut Vec<u8>) {
        let Some(m) = schema.messages.get(name) else {
            return;
        };
        for f in &m.field {
            // Each field present about two times in three.
            if self.rng.below(3) == 0 {
                continue;
            }
            let n = if f.label() == Label::Repeated {
                self.pick(&[0, 1, 2, 3, 5])
            } else {
                1
            };
            let tag = f.number() as u32;
            for _ in 0..n {
                self.field(schema, f.r#type(), f.type_name(), tag, depth, out);
            }
        }
    }

    fn field(
        &mut self,
        schema: &Schema,
        t: Type,
        type_name: &str,
        tag: u32,
        depth: u32,
        out: &mut Vec<u8>,
    ) {
        match t {
            Type::String | Type::Bytes => {
                let s = self.string();
                encode_key(tag, WireType::LengthDelimited, out);
                encode_varint(s.len() as u64, out);
                out.put_slice(s.as_bytes());
            }
            Type::Double => {
                encode_key(tag, WireType::SixtyFourBit, out);
                out.put_f64_le(self.double());
            }
            Type::Float => {
                encode_key(tag, WireType::ThirtyTwoBit, out);
                out.put_f32_le(self.double() as f32);
            }
            Type::Bool => {
                encode_key(tag, WireType::Varint, out);
                encode_varint(self.rng.below(2) as u64, out);
            }
            Type::Int64 | Type::Uint64 | Type::Int32 | Type::Uint32 | Type::Enum => {
                encode_key(tag, WireType::Varint, out);
                encode_varint(self.int() as u64, out);
            }
            Type::Sint32 | Type::Sint64 => {
                let v = self.int();
                encode_key(tag, WireType::Varint, out);
                encode_varint(((v << 1) ^ (v >> 63)) as u64, out);
            }
            Type::Fixed32 | Type::Sfixed32 => {
                encode_key(tag, WireType::ThirtyTwoBit, out);
                out.put_u32_le(self.int() as u32);
            }
            Type::Fixed64 | Type::Sfixed64 => {
                encode_key(tag, WireType::SixtyFourBit, out);
                out.put_u64_le(self.int() as u64);
            }
            Type::Message if depth > 0 => {
                let mut inner = Vec::new();
                self.message(schema, type_name, depth - 1, &mut inner);
                encode_key(tag, WireType::LengthDelimited, out);
                encode_varint(inner.len() as u64, out);
                out.put_slice(&inner);
            }
            Type::Message | Type::Group => {}
        }
    }
}

/// Sends `messages` to `path`; the code it ends with.
async fn send(
    channel: Channel,
    path: &str,
    (client_streaming, server_streaming): (bool, bool),
    mut messages: Vec<Vec<u8>>,
) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    if grpc.ready().await.is_err() {
        return Code::Unavailable;
    }
    let name = path;
    let path = PathAndQuery::from_str(path).unwrap();
    let codec = tonic_prost::ProstCodec::<Raw, ()>::default();
    let r = match (client_streaming, server_streaming) {
        (false, false) => grpc
            .unary(tonic::Request::new(Raw(messages.remove(0))), path, codec)
            .await
            .map(|_| ()),
        (true, false) => {
            let stream = tokio_stream::iter(messages.into_iter().map(Raw));
            grpc.client_streaming(tonic::Request::new(stream), path, codec)
                .await
                .map(|_| ())
        }
        (false, true) => {
            match grpc
                .server_streaming(tonic::Request::new(Raw(messages.remove(0))), path, codec)
                .await
            {
                Ok(s) => {
                    let mut s = s.into_inner();
                    loop {
                        match s.message().await {
                            Ok(Some(_)) => continue,
                            Ok(None) => break Ok(()),
                            Err(e) => break Err(e),
                        }
                    }
                }
                Err(e) => Err(e),
            }
        }
        (true, true) => unreachable!("Pulse has no bidirectional RPC"),
    };
    match r {
        Ok(()) => Code::Ok,
        Err(s) => {
            assert!(
                !matches!(
                    s.code(),
                    Code::Internal | Code::Unknown | Code::Unimplemented | Code::DataLoss
                ),
                "{name}: {s:?}"
            );
            s.code()
        }
    }
}

fn cases() -> u32 {
    std::env::var("PULSE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_family_answers_hostile_requests_with_defined_codes() {
    let store = Store::in_memory().await.unwrap();
    ingest_synthetic_until(&store, 120, 12, today() - 1).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 10, true).await;
    let server = TestServer::start_with(crate::state(store, registry)).await;
    let mut scoring =
        pulse_proto::v1::scoring_service_client::ScoringServiceClient::new(server.channel.clone());
    wait_ready(&mut scoring).await;
    let schema = Arc::new(schema());
    let families: Vec<String> = {
        let mut f: Vec<String> = schema.methods.iter().map(|m| m.0.clone()).collect();
        f.dedup();
        f
    };
    assert!(families.len() >= 8, "{families:?}");
    let handle = tokio::runtime::Handle::current();
    let mut seen: HashMap<Code, usize> = HashMap::new();
    for family in &families {
        let methods: Vec<_> = schema
            .methods
            .iter()
            .filter(|m| &m.0 == family)
            .cloned()
            .collect();
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let channel = server.channel.clone();
        let schema = schema.clone();
        let codes = tokio::task::block_in_place(|| {
            let codes = std::sync::Mutex::new(Vec::new());
            let r = runner.run(&proptest::num::u64::ANY, |seed| {
                let mut g = Gen {
                    rng: SplitMix64::new(seed),
                };
                let (_, path, input, cs, ss) = &methods[g.rng.below(methods.len())];
                let n = if *cs { 1 + g.rng.below(3) } else { 1 };
                let messages: Vec<Vec<u8>> = (0..n)
                    .map(|_| {
                        let mut out = Vec::new();
                        g.message(&schema, input, 3, &mut out);
                        out
                    })
                    .collect();
                let code = handle.block_on(send(channel.clone(), path, (*cs, *ss), messages));
                codes.lock().unwrap().push(code);
                Ok(())
            });
            r.unwrap_or_else(|e| panic!("{family}: {e}"));
            codes.into_inner().unwrap()
        });
        for c in codes {
            *seen.entry(c).or_default() += 1;
        }
        // Still serving after each family.
        let h = HealthClient::new(server.channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(h.status, ServingStatus::Serving as i32, "after {family}");
    }
    eprintln!("fuzz: {} families, codes {seen:?}", families.len());
    assert!(seen.contains_key(&Code::InvalidArgument), "{seen:?}");
    server.stop().await;
}
