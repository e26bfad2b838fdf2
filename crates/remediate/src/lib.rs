//! Remediation: fix plans, preflight gates, approvals, the audit log and the runner.
//!
//! Built so far:
//! - [`audit`]: the append-only audit log, hash-chained and signed with ed25519, and its
//!   verification, which names the first edited, deleted, inserted, reordered or forged entry.
//! - [`approval`]: approval policies (N of M approvers, required roles, the author barred,
//!   expiry) and signed approvals bound to a plan's content hash, evaluated fail-closed.
//! - [`shell`]: commands as data (a program and its arguments) and their POSIX quoting, which
//!   makes every telemetry value one literal word; scripts that stop at the first failure.
//!
//! Fix plans, preflight gates and the runner are not built yet.

pub mod approval;
pub mod audit;
pub mod gitops;
pub mod plan;
pub mod policy;
pub mod preflight;
pub mod runner;
pub mod shell;

pub use faultlens_core as core;
