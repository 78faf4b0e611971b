//! Behaviour tests of the generated base.
