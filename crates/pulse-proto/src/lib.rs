//! The Pulse gRPC API, generated at build time from `proto/pulse/v1/*.proto`.
//!
//! Architecture Invariant: this crate depends on nothing in Pulse; it is the
//! only place (with `pulse-server`) that knows protobuf. Generated code stays
//! in `OUT_DIR` and is never committed.

#![allow(unreachable_pub, clippy::all, missing_docs)]

/// `package pulse.v1`.
pub mod v1 {
    tonic::include_proto!("pulse.v1");
}

/// The encoded `FileDescriptorSet` of every Pulse proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("pulse_descriptor");
