//! The seeded generator for reproducible splits and shuffles: SplitMix64
//! from `pulse_core::rng`.

pub(crate) use pulse_core::rng::SplitMix64;
