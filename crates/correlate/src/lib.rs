//! faultlens correlate stage.
//!
//! This crate is the home of the correlate stage of the faultlens pipeline. Its capability lands in
//! a later issue; today it only re-exports the core model it will build on.

pub use faultlens_core as core;
