//! Point-in-time features (work in progress).
