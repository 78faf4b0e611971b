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

/// A faster hash for serving-side look-ups only (the feature index and the
/// lexicon, both rebuilt when a model loads): a feature of up to 16 bytes
/// (almost all of them) is read as two overlapping words and mixed with one
/// 128-bit multiply; longer ones use [`feature_hash`].
#[inline]
pub(crate) fn index_hash(text: &str) -> u64 {
    let b = text.as_bytes();
    let n = b.len();
    let read8 = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let read4 = |at: usize| {
        u64::from(u32::from_le_bytes(
            b[at..at + 4].try_into().expect("4 bytes"),
        ))
    };
    let (lo, hi) = match n {
        0 => (0, 0),
        1..=3 => (
            (u64::from(b[0]) << 16) | (u64::from(b[n / 2]) << 8) | u64::from(b[n - 1]),
            0,
        ),
        4..=7 => (read4(0), read4(n - 4)),
        8..=16 => (read8(0), read8(n - 8)),
        _ => return feature_hash(text),
    };
    mix(lo, hi, n)
}

/// [`index_hash`] of `#` followed by `gram` (a character n-gram's feature),
/// computed from `gram` where it lies: no string is built, so the bytes are
/// not stored just before they are read back.
#[inline]
pub(crate) fn index_hash_char_gram(gram: &str) -> u64 {
    const HASH: u64 = b'#' as u64;
    let g = gram.as_bytes();
    let n = g.len() + 1;
    // Byte `at` of `#` + gram.
    let byte = |at: usize| if at == 0 { HASH } else { u64::from(g[at - 1]) };
    let read4 = |at: usize| u64::from(u32::from_le_bytes(g[at..at + 4].try_into().expect("4")));
    let (lo, hi) = match n {
        1..=3 => ((byte(0) << 16) | (byte(n / 2) << 8) | byte(n - 1), 0),
        // read4(0) of the feature is `#` and the gram's first three bytes;
        // read4(n - 4) is the same read for n = 4, else wholly in the gram.
        4..=7 => {
            let lo =
                HASH | (u64::from(g[0]) << 8) | (u64::from(g[1]) << 16) | (u64::from(g[2]) << 24);
            (lo, if n == 4 { lo } else { read4(n - 5) })
        }
        // The same for eight bytes: `#` and the gram's first seven (two
        // overlapping reads, the shared byte or-ed onto itself).
        8..=16 => {
            let lo = HASH | ((read4(0) | (read4(3) << 24)) << 8);
            let hi = if n == 8 {
                lo
            } else {
                u64::from_le_bytes(g[n - 9..n - 1].try_into().expect("8"))
            };
            (lo, hi)
        }
        _ => {
            let mut text = String::with_capacity(n);
            text.push('#');
            text.push_str(gram);
            return feature_hash(&text);
        }
    };
    mix(lo, hi, n)
}

#[inline]
fn mix(lo: u64, hi: u64, n: usize) -> u64 {
    let m =
        u128::from(lo ^ 0xa076_1d64_78bd_642f ^ n as u64) * u128::from(hi ^ 0xe703_7ed1_a0b4_28db);
    let h = (m as u64) ^ ((m >> 64) as u64);
    let m = u128::from(h ^ 0x8ebc_6af0_9c88_c6e3) * u128::from(K ^ n as u64);
    (m as u64) ^ ((m >> 64) as u64)
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

    #[test]
    fn the_index_hash_tells_short_features_apart() {
        // Every length from 0 to 40 bytes (both branches and the fallback),
        // strings differing in one byte at either end or in the middle, and
        // 200,000 feature-like strings: no two share a hash.
        let mut seen = HashSet::new();
        let mut n = 0;
        for len in 0..=40usize {
            for v in 0..64u8 {
                for at in [0, len / 2, len.saturating_sub(1)] {
                    let mut s = vec![b'a'; len];
                    if len > 0 {
                        s[at] = b'0' + v;
                    }
                    let s = String::from_utf8(s).unwrap();
                    if seen.insert(s.clone()) {
                        n += 1;
                        assert_eq!(index_hash(&s), index_hash(&s.clone()));
                    }
                }
            }
        }
        let mut hashes: HashSet<u64> = seen.iter().map(|s| index_hash(s)).collect();
        assert_eq!(hashes.len(), n);
        for i in 0..200_000u32 {
            for f in [format!("#^w{i}"), format!("NOT_w{i}"), format!("w{i} x")] {
                assert!(hashes.insert(index_hash(&f)), "{f}");
            }
        }
    }

    #[test]
    fn a_char_gram_hashes_as_its_feature_text() {
        // Every gram length from 0 to 40 bytes (every branch and the
        // fallback), ASCII and multi-byte, equals the hash of `#` + gram.
        let alphabet = ["a", "z", "^", "$", "é", "ß", "日", "😀", "0", "'"];
        for len in 0..=40usize {
            for seed in 0..50usize {
                let mut gram = String::new();
                let mut k = seed;
                while gram.len() < len {
                    gram.push_str(alphabet[k % alphabet.len()]);
                    k = k.wrapping_mul(31).wrapping_add(7);
                }
                let feature = format!("#{gram}");
                assert_eq!(
                    index_hash_char_gram(&gram),
                    index_hash(&feature),
                    "{feature:?}"
                );
            }
        }
    }
}
