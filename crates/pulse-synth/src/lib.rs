//! Seeded synthetic customer base (work in progress).
