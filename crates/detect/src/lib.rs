//! faultlens detect stage.
//!
//! This crate is the home of the detect stage of the faultlens pipeline. Its capability lands in
//! a later issue; today it only re-exports the core model it will build on.

pub use faultlens_core as core;
