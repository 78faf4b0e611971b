//! The seeded generator for reproducible splits and folds: SplitMix64 from
//! `pulse_core::rng` (a pinned test value relies on it being the same on
//! every platform and across dependency upgrades).

pub(crate) use pulse_core::rng::SplitMix64;
