//! Remediation: fix plans, Rego policies, preflight gates, approvals, the audit log and the
//! runner.
//!
//! - [`plan`]: fix plans from a root-cause hypothesis. Typed steps for kubectl, Helm,
//!   Terraform, Ansible and GitOps, each with dry-run, apply, rollback and verification
//!   commands, a risk level and a blast radius; JSON and shell scripts; a content hash that
//!   approvals sign. A plan carries its hypothesis's evidence, so it cannot exist without it.
//! - [`gitops`]: the GitOps step's patch: values set in a YAML file on a new branch, committed
//!   with git, and the pull request's JSON for GitHub's REST API.
//! - [`policy`]: Rego through regorus with conftest conventions and Gatekeeper semantics
//!   (ConstraintTemplates, Constraints, `gator verify` suites), and the rewrites that mend
//!   where regorus differs from OPA.
//! - [`preflight`]: the gates a plan must pass (policy, dry run, error budget, change windows,
//!   blast radius), each answering Pass, Block or Insufficient evidence with cited reasons;
//!   text, JSON, JUnit, GitHub, SARIF and TAP output.
//! - [`approval`]: approval policies (N of M approvers, required roles, the author barred,
//!   expiry) and signed approvals bound to a plan's content hash, evaluated fail-closed.
//! - [`audit`]: the append-only audit log, hash-chained and signed with ed25519, and its
//!   verification, which names the first edited, deleted, inserted, reordered or forged entry.
//! - [`runner`]: runs only approved plans, only allowed programs, namespaces and contexts, dry
//!   run first and by default, with timeouts and every outcome in the audit log.
//! - [`shell`]: commands as data (a program and its arguments) and their POSIX quoting, which
//!   makes every telemetry value one literal word; scripts that stop at the first failure.

pub mod approval;
pub mod audit;
pub mod gitops;
pub mod plan;
pub mod policy;
pub mod preflight;
pub mod runner;
pub mod shell;

pub use faultlens_core as core;
