//! Feature hashing: a fixed, seedless 64-bit hash of a feature's text and the
//! identity hasher for maps keyed by it.
//!
//! The serving index maps `feature_hash(text)` to a vocabulary row, so a
//! lookup never compares strings. The hash is part of the model format only
//! implicitly: the model stores feature texts and rebuilds the index on load,
//! so the hash may change between versions of this crate without breaking
//! stored models. Loading rejects a vocabulary in which two features share a
//! hash; an unseen feature that collides with a vocabulary entry is possible
//! in principle (about 2^-64 per lookup per entry) and would only add that
//! entry's weight once.

use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Hash of a feature's bytes: 8 bytes per multiply-rotate round, then the
/// MurmurHash3 finaliser so every output bit depends on every input bit.
pub(crate) fn feature_hash(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut h = K ^ (bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    fmix64(h)
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Passes an already mixed `u64` key through unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by the maps in this crate; fold anything
        // else in so the hasher stays correct if that ever changes.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type IdBuild = BuildHasherDefault<IdHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hash_is_stable_and_spreads() {
        // Pinned: the value must not depend on platform or process.
        assert_eq!(feature_hash("good"), feature_hash("good"));
        assert_ne!(feature_hash("good"), feature_hash("goo"));
        assert_ne!(feature_hash(""), feature_hash("\0"));
        assert_ne!(feature_hash("abcdefgh"), feature_hash("abcdefgh\0"));
        let mut seen = HashSet::new();
        for i in 0..50_000u32 {
            assert!(seen.insert(feature_hash(&format!("#w{i}"))));
        }
    }
}
