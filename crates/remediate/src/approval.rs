//! Approvals: who may approve a plan, how many must, and whether the approvals given are
//! enough, each one signed by its approver and bound to the exact plan hash.
//!
//! An [`Approval`] is an ed25519 signature over a domain tag, the plan's content hash, the
//! approver's name and the approval's time and expiry. [`evaluate`] checks every approval
//! against an [`ApprovalPolicy`] (known approvers with their public keys and roles, how many
//! distinct approvers, which roles must be among them, whether the author may approve, how
//! long an approval lasts) and answers Approved or Not approved with a reason for every
//! approval that did not count and everything still missing. It fails closed: an approval for
//! another plan, by an unknown name, with a bad signature, from the author, expired or from
//! the future does not count.

use std::collections::{BTreeMap, BTreeSet};

use faultlens_core::{ContentHash, Timestamp};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditKey, public_key, verify_hex};

/// Domain separation for approval signatures.
const DOMAIN: &[u8] = b"faultlens-approval-v1\n";

/// Someone who may approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approver {
    /// Name, as approvals carry it.
    pub name: String,
    /// Their public key, 64 hex digits.
    pub key: String,
    /// Their roles (`sre`, `service-owner`, ...).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// What it takes to approve a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApprovalPolicy {
    /// The people who may approve (M).
    pub approvers: Vec<Approver>,
    /// Distinct approvers needed (N).
    pub required: u32,
    /// Roles that must each be held by at least one counted approver.
    pub required_roles: Vec<String>,
    /// Whether the plan's author may approve it (default no).
    pub author_may_approve: bool,
    /// Longest life of an approval in milliseconds, from its time (default 4 hours); an
    /// approval's own shorter expiry wins.
    pub max_age_ms: i64,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            approvers: Vec::new(),
            required: 1,
            required_roles: Vec::new(),
            author_may_approve: false,
            max_age_ms: 4 * 3_600_000,
        }
    }
}

impl ApprovalPolicy {
    /// A policy needing `required` of `approvers`, with the defaults otherwise.
    #[must_use]
    pub fn new(approvers: Vec<Approver>, required: u32) -> Self {
        Self { approvers, required, ..Self::default() }
    }

    /// Sets the roles that must be among the approvers.
    #[must_use]
    pub fn with_required_roles(mut self, roles: Vec<String>) -> Self {
        self.required_roles = roles;
        self
    }

    /// Lets the author approve their own plan.
    #[must_use]
    pub fn with_author_may_approve(mut self, yes: bool) -> Self {
        self.author_may_approve = yes;
        self
    }

    /// Sets how long an approval lasts.
    #[must_use]
    pub fn with_max_age_ms(mut self, ms: i64) -> Self {
        self.max_age_ms = ms;
        self
    }
}

/// One approval of one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The plan's content hash: the approval is for these exact bytes.
    pub plan: ContentHash,
    /// The approver's name.
    pub approver: String,
    /// When it was given.
    pub at: Timestamp,
    /// When it lapses, if sooner than the policy's limit.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// ed25519 signature of the fields above, hex.
    pub signature: String,
}

/// The bytes an approval's signature covers.
fn signed_bytes(plan: &ContentHash, approver: &str, at: Timestamp, expires_at: Option<Timestamp>) -> Vec<u8> {
    let mut b = DOMAIN.to_vec();
    b.extend_from_slice(plan.as_bytes());
    b.extend_from_slice(&(approver.len() as u64).to_be_bytes());
    b.extend_from_slice(approver.as_bytes());
    b.extend_from_slice(&at.as_millis().to_be_bytes());
    b.extend_from_slice(&expires_at.map_or(i64::MIN, Timestamp::as_millis).to_be_bytes());
    b
}

impl Approval {
    /// `approver` approves `plan` at `at`, signing with `key`.
    #[must_use]
    pub fn sign(
        plan: ContentHash,
        approver: impl Into<String>,
        at: Timestamp,
        expires_at: Option<Timestamp>,
        key: &AuditKey,
    ) -> Self {
        let approver = approver.into();
        let signature = key.sign_hex(&signed_bytes(&plan, &approver, at, expires_at));
        Self { plan, approver, at, expires_at, signature }
    }
}

/// Why an approval did not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
#[non_exhaustive]
pub enum Rejection {
    /// It approves other bytes.
    #[error("it approves plan {0}, not this one")]
    OtherPlan(ContentHash),
    /// The name is not an approver of the policy.
    #[error("{0} is not an approver")]
    UnknownApprover(String),
    /// The signature does not verify with the approver's key (or the key is invalid).
    #[error("the signature does not verify with {0}'s key")]
    BadSignature(String),
    /// The author approved their own plan.
    #[error("{0} wrote the plan and may not approve it")]
    Author(String),
    /// It has lapsed.
    #[error("it expired at {0}")]
    Expired(Timestamp),
    /// It is dated after the time of evaluation.
    #[error("it is dated {0}, in the future")]
    FromTheFuture(Timestamp),
    /// The approver already approved; one approver counts once.
    #[error("{0} already approved")]
    Duplicate(String),
}

/// An approval that did not count, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Its position in the input.
    pub index: usize,
    /// Its approver, as written.
    pub approver: String,
    /// Why.
    pub reason: Rejection,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// Whether the plan may run.
    pub approved: bool,
    /// The approvers who counted, in name order.
    pub counted: Vec<String>,
    /// The approvals that did not count.
    pub rejected: Vec<Rejected>,
    /// What is still missing (more approvers, roles), empty when approved.
    pub missing: Vec<String>,
}

/// Checks `approvals` of the plan with hash `plan`, written by `author`, at time `now`.
#[must_use]
pub fn evaluate(
    policy: &ApprovalPolicy,
    plan: ContentHash,
    author: &str,
    approvals: &[Approval],
    now: Timestamp,
) -> ApprovalDecision {
    let by_name: BTreeMap<&str, &Approver> = policy.approvers.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut counted: BTreeSet<&str> = BTreeSet::new();
    let mut rejected = Vec::new();
    for (index, a) in approvals.iter().enumerate() {
        let reason = check(policy, &by_name, plan, author, a, now)
            .err()
            .or_else(|| (!counted.insert(a.approver.as_str())).then(|| Rejection::Duplicate(a.approver.clone())));
        if let Some(reason) = reason {
            rejected.push(Rejected { index, approver: a.approver.clone(), reason });
        }
    }
    let mut missing = Vec::new();
    if policy.required == 0 && policy.required_roles.is_empty() {
        // a policy that asks for nothing is a mistake, not a licence
        missing.push("the policy requires no approval: refusing to treat that as approved".into());
    }
    let have = counted.len() as u32;
    if have < policy.required {
        missing.push(format!("{} more approver(s): {have} of {} counted", policy.required - have, policy.required));
    }
    for role in &policy.required_roles {
        let held = counted.iter().any(|n| by_name.get(n).is_some_and(|a| a.roles.iter().any(|r| r == role)));
        if !held {
            missing.push(format!("an approver with role `{role}`"));
        }
    }
    ApprovalDecision {
        approved: missing.is_empty(),
        counted: counted.into_iter().map(str::to_string).collect(),
        rejected,
        missing,
    }
}

fn check(
    policy: &ApprovalPolicy,
    by_name: &BTreeMap<&str, &Approver>,
    plan: ContentHash,
    author: &str,
    a: &Approval,
    now: Timestamp,
) -> Result<(), Rejection> {
    if a.plan != plan {
        return Err(Rejection::OtherPlan(a.plan));
    }
    let approver = by_name.get(a.approver.as_str()).ok_or_else(|| Rejection::UnknownApprover(a.approver.clone()))?;
    let bad = || Rejection::BadSignature(a.approver.clone());
    let key = public_key(&approver.key).map_err(|_| bad())?;
    let message = signed_bytes(&a.plan, &a.approver, a.at, a.expires_at);
    if !verify_hex(&key, &message, &a.signature).unwrap_or(false) {
        return Err(bad());
    }
    if a.approver == author && !policy.author_may_approve {
        return Err(Rejection::Author(a.approver.clone()));
    }
    if a.at > now {
        return Err(Rejection::FromTheFuture(a.at));
    }
    let limit = a.at.add_millis(policy.max_age_ms.max(0));
    let expiry = a.expires_at.map_or(limit, |e| e.min(limit));
    if now >= expiry {
        return Err(Rejection::Expired(expiry));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> AuditKey {
        AuditKey::from_secret_hex(&format!("{n:02x}").repeat(32)).unwrap()
    }

    fn t(min: i64) -> Timestamp {
        Timestamp::from_millis(1_790_000_000_000 + min * 60_000)
    }

    fn policy() -> ApprovalPolicy {
        let a = |name: &str, n: u8, roles: &[&str]| Approver {
            name: name.into(),
            key: key(n).public_hex(),
            roles: roles.iter().map(|r| (*r).to_string()).collect(),
        };
        ApprovalPolicy::new(vec![a("alice", 1, &["sre"]), a("bob", 2, &["owner"]), a("carol", 3, &["sre", "owner"])], 2)
            .with_required_roles(vec!["owner".into()])
    }

    #[test]
    fn two_distinct_approvers_with_the_owner_role_approve() {
        let plan = ContentHash::of(b"plan v1");
        let ok = [Approval::sign(plan, "alice", t(0), None, &key(1)), Approval::sign(plan, "bob", t(1), None, &key(2))];
        let d = evaluate(&policy(), plan, "dave", &ok, t(10));
        assert!(d.approved, "{d:?}");
        assert_eq!(d.counted, ["alice", "bob"]);
        // two SREs are enough people but not the owner role
        let sres = [Approval::sign(plan, "alice", t(0), None, &key(1))];
        let d = evaluate(&policy(), plan, "dave", &sres, t(10));
        assert!(!d.approved);
        assert_eq!(d.missing.len(), 2, "{:?}", d.missing);
    }

    #[test]
    fn every_bad_approval_is_named_and_does_not_count() {
        let plan = ContentHash::of(b"plan v1");
        let other = ContentHash::of(b"plan v2");
        let approvals = [
            Approval::sign(other, "alice", t(0), None, &key(1)),   // another plan
            Approval::sign(plan, "mallory", t(0), None, &key(9)),  // unknown
            Approval::sign(plan, "bob", t(0), None, &key(9)),      // wrong key
            Approval::sign(plan, "carol", t(0), None, &key(3)),    // the author
            Approval::sign(plan, "alice", t(-300), None, &key(1)), // older than 4 hours
            Approval::sign(plan, "alice", t(0), Some(t(5)), &key(1)), // its own expiry passed
            Approval::sign(plan, "bob", t(60), None, &key(2)),     // dated after now
            Approval::sign(plan, "bob", t(1), None, &key(2)),      // counts
            Approval::sign(plan, "bob", t(2), None, &key(2)),      // a second time
        ];
        let d = evaluate(&policy(), plan, "carol", &approvals, t(10));
        assert!(!d.approved);
        assert_eq!(d.counted, ["bob"]);
        let reasons: Vec<&Rejection> = d.rejected.iter().map(|r| &r.reason).collect();
        assert!(matches!(reasons[0], Rejection::OtherPlan(h) if *h == other));
        assert!(matches!(reasons[1], Rejection::UnknownApprover(_)));
        assert!(matches!(reasons[2], Rejection::BadSignature(_)));
        assert!(matches!(reasons[3], Rejection::Author(_)));
        assert!(matches!(reasons[4], Rejection::Expired(_)));
        assert!(matches!(reasons[5], Rejection::Expired(e) if *e == t(5)));
        assert!(matches!(reasons[6], Rejection::FromTheFuture(_)));
        assert!(matches!(reasons[7], Rejection::Duplicate(_)));
        assert_eq!(d.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6, 8]);
    }

    #[test]
    fn an_edited_approval_no_longer_verifies() {
        let plan = ContentHash::of(b"plan v1");
        let mut a = Approval::sign(plan, "alice", t(0), Some(t(30)), &key(1));
        a.expires_at = Some(t(600));
        let d = evaluate(&policy(), plan, "dave", &[a], t(10));
        assert!(matches!(d.rejected[0].reason, Rejection::BadSignature(_)));
    }

    #[test]
    fn a_policy_that_asks_for_nothing_does_not_approve() {
        let plan = ContentHash::of(b"p");
        let d = evaluate(&ApprovalPolicy::new(Vec::new(), 0), plan, "dave", &[], t(0));
        assert!(!d.approved && d.missing[0].contains("requires no approval"));
        let author = policy().with_author_may_approve(true);
        let mine =
            [Approval::sign(plan, "carol", t(0), None, &key(3)), Approval::sign(plan, "bob", t(0), None, &key(2))];
        assert!(evaluate(&author, plan, "carol", &mine, t(1)).approved);
    }
}
