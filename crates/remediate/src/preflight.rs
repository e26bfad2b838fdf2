//! Preflight gates: may this plan run now?
//!
//! Each gate answers [`Verdict::Pass`], [`Verdict::Block`] or [`Verdict::Insufficient`], with
//! reasons that cite the rule and the input (and the input's content hash):
//! - **policy**: conftest rules and Gatekeeper constraints over the plan itself and any
//!   manifests or Terraform plans given;
//! - **dry-run**: `kubectl diff` or server dry-run output, and Terraform plan JSON (resources
//!   destroyed or replaced, drift);
//! - **budget**: the SLO error budget left and the current burn rate;
//! - **freeze**: change windows (freeze periods) covering now;
//! - **blast-radius**: how many services the plan may affect, and its risk.
//!
//! Fail closed: a gate without its input is Insufficient evidence, an evaluation error or an
//! unparsable input blocks, NaN is never a pass. A gate is left out only when the
//! configuration says so, and the report says it was.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use faultlens_core::{ContentHash, Evidence, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::plan::{Plan, Risk};
use crate::policy::conftest::Severity;
use crate::policy::gatekeeper::{Inventory, Review};
use crate::policy::{Document, PolicySet, Prepared};

/// A gate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing stands in the way.
    Pass,
    /// The gate lacks what it needs to decide.
    Insufficient,
    /// The plan must not run.
    Block,
}

impl Verdict {
    /// The process exit code: 0 pass, 1 block, 2 insufficient evidence.
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Pass => 0,
            Self::Block => 1,
            Self::Insufficient => 2,
        }
    }

    /// `pass`, `block` or `insufficient evidence`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Block => "block",
            Self::Insufficient => "insufficient evidence",
        }
    }
}

/// The gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// Rego policies and Gatekeeper constraints.
    Policy,
    /// The dry-run result.
    DryRun,
    /// The SLO error budget.
    Budget,
    /// Change windows.
    Freeze,
    /// Blast radius and risk limits.
    BlastRadius,
}

impl Gate {
    /// Every gate, in evaluation order.
    pub const ALL: [Self; 5] = [Self::Policy, Self::DryRun, Self::Budget, Self::Freeze, Self::BlastRadius];

    /// The gate's name (`dry-run`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::DryRun => "dry-run",
            Self::Budget => "budget",
            Self::Freeze => "freeze",
            Self::BlastRadius => "blast-radius",
        }
    }
}

/// One reason behind a gate's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// What this reason says about the plan.
    pub verdict: Verdict,
    /// The rule, constraint or check (`data.main.deny_latest`, `K8sRequiredLabels/must-have-team`,
    /// `terraform: destroy`).
    pub rule: String,
    /// The input it is about (a file, `file#2`, `plan`, `plan.steps[0]`).
    pub input: String,
    /// What was found.
    pub message: String,
    /// The data cited: the policy or source file, the rule on the input, the input's hash.
    pub evidence: Evidence,
}

/// One gate's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate.
    pub gate: Gate,
    /// Its answer.
    pub verdict: Verdict,
    /// Why: every block and every missing input, plus notes (warnings, exceptions, policies
    /// that matched nothing) as reasons with verdict pass.
    pub reasons: Vec<Reason>,
}

/// The preflight answer for a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightReport {
    /// The plan's id.
    pub plan: String,
    /// The plan's content hash.
    pub plan_hash: ContentHash,
    /// When the gates were evaluated.
    pub at: Timestamp,
    /// The overall answer: block if any gate blocks, else insufficient if any gate lacks
    /// evidence, else pass.
    pub verdict: Verdict,
    /// Each gate evaluated.
    pub gates: Vec<GateResult>,
    /// Gates the configuration left out.
    pub skipped: Vec<Gate>,
}

/// A dry-run result to judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunInput {
    /// Where it came from.
    pub path: String,
    /// Its text: `kubectl diff` output, server dry-run output, or `terraform show -json`.
    pub text: String,
}

/// The SLO error budget, as `faultlens slo budget` computes it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetInput {
    /// Fraction of the window's error budget left (1 = untouched, below 0 = overspent).
    pub remaining: f64,
    /// Current burn rate (1 = spending exactly the budget over the window).
    pub burn_rate: f64,
}

/// A change window during which plans must not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeWindow {
    /// First instant.
    pub start: Timestamp,
    /// Last instant.
    pub end: Timestamp,
    /// Why (`Black Friday`).
    pub reason: String,
    /// Services it covers; empty covers every service.
    #[serde(default)]
    pub services: Vec<String>,
}

/// Limits and which gates run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreflightConfig {
    /// Gates to leave out (reported as skipped).
    pub skip: Vec<Gate>,
    /// Least error budget left to proceed (fraction).
    pub min_budget_remaining: f64,
    /// Highest burn rate to proceed.
    pub max_burn_rate: f64,
    /// Most services a plan may affect.
    pub max_blast_radius: usize,
    /// Highest plan risk allowed.
    pub max_risk: Risk,
    /// Whether Terraform may destroy or replace resources.
    pub allow_destroy: bool,
    /// Whether drift (resources changed outside Terraform) may be overwritten.
    pub allow_drift: bool,
    /// Whether policy warnings block.
    pub warnings_block: bool,
}

impl Default for PreflightConfig {
    fn default() -> Self {
        Self {
            skip: Vec::new(),
            min_budget_remaining: 0.0,
            max_burn_rate: 14.4,
            max_blast_radius: 10,
            max_risk: Risk::High,
            allow_destroy: false,
            allow_drift: false,
            warnings_block: false,
        }
    }
}

impl PreflightConfig {
    /// Leaves these gates out.
    #[must_use]
    pub fn with_skip(mut self, gates: Vec<Gate>) -> Self {
        self.skip = gates;
        self
    }

    /// Sets the least budget left and the highest burn rate.
    #[must_use]
    pub fn with_budget_limits(mut self, min_remaining: f64, max_burn_rate: f64) -> Self {
        self.min_budget_remaining = min_remaining;
        self.max_burn_rate = max_burn_rate;
        self
    }

    /// Sets the most services a plan may affect.
    #[must_use]
    pub fn with_max_blast_radius(mut self, n: usize) -> Self {
        self.max_blast_radius = n;
        self
    }

    /// Sets the highest risk allowed.
    #[must_use]
    pub fn with_max_risk(mut self, risk: Risk) -> Self {
        self.max_risk = risk;
        self
    }
}

/// Everything the gates read besides the plan.
#[derive(Debug, Clone, Default)]
pub struct PreflightInputs {
    /// Loaded policies, or why they could not be loaded.
    pub policies: Option<Result<PolicySet, String>>,
    /// Kubernetes manifests, Helm-rendered manifests and Terraform plan JSON to check with them.
    pub manifests: Vec<Document>,
    /// Dry-run results.
    pub dry_runs: Vec<DryRunInput>,
    /// The error budget.
    pub budget: Option<BudgetInput>,
    /// The change calendar (`None`: not given; empty: no freezes).
    pub freezes: Option<Vec<FreezeWindow>>,
}

struct Cite<'a> {
    plan_hash: ContentHash,
    reasons: &'a mut Vec<Reason>,
}

impl Cite<'_> {
    fn add(
        &mut self,
        verdict: Verdict,
        rule: impl Into<String>,
        input: impl Into<String>,
        source: &str,
        hash: Option<ContentHash>,
        message: impl Into<String>,
    ) {
        let (rule, input, message) = (rule.into(), input.into(), message.into());
        let evidence =
            Evidence::new(source, format!("{rule} on {input}"), hash.unwrap_or(self.plan_hash), message.clone());
        self.reasons.push(Reason { verdict, rule, input, message, evidence });
    }
}

fn hash_json(v: &Value) -> ContentHash {
    ContentHash::of(&serde_json::to_vec(v).unwrap_or_default())
}

fn verdict_of(reasons: &[Reason]) -> Verdict {
    reasons.iter().map(|r| r.verdict).max().unwrap_or(Verdict::Pass)
}

/// Runs the gates on `plan` at `at`.
#[must_use]
pub fn preflight(plan: &Plan, inputs: &PreflightInputs, config: &PreflightConfig, at: Timestamp) -> PreflightReport {
    let plan_hash = plan.hash().unwrap_or_else(|_| ContentHash::of(b""));
    let mut gates = Vec::new();
    for gate in Gate::ALL {
        if config.skip.contains(&gate) {
            continue;
        }
        let mut reasons = Vec::new();
        let mut cite = Cite { plan_hash, reasons: &mut reasons };
        match gate {
            Gate::Policy => policy_gate(plan, inputs, config, &mut cite),
            Gate::DryRun => dry_run_gate(inputs, config, &mut cite),
            Gate::Budget => budget_gate(inputs.budget, config, &mut cite),
            Gate::Freeze => freeze_gate(plan, inputs.freezes.as_deref(), at, &mut cite),
            Gate::BlastRadius => blast_gate(plan, config, &mut cite),
        }
        gates.push(GateResult { gate, verdict: verdict_of(&reasons), reasons });
    }
    let verdict = gates.iter().map(|g| g.verdict).max().unwrap_or(Verdict::Pass);
    let skipped = Gate::ALL.into_iter().filter(|g| config.skip.contains(g)).collect();
    PreflightReport { plan: plan.id.clone(), plan_hash, at, verdict, gates, skipped }
}

fn policy_gate(plan: &Plan, inputs: &PreflightInputs, config: &PreflightConfig, cite: &mut Cite<'_>) {
    let set = match &inputs.policies {
        None => {
            cite.add(
                Verdict::Insufficient,
                "policies",
                "--policy",
                "",
                None,
                "no policy given: nothing says this plan is allowed",
            );
            return;
        }
        Some(Err(e)) => {
            cite.add(
                Verdict::Block,
                "policies",
                "--policy",
                "",
                None,
                format!("the policies could not be loaded: {e}"),
            );
            return;
        }
        Some(Ok(set)) => set,
    };
    // The plan itself (its steps: action, namespace, target, replicas, patch), and every
    // manifest given. The plan's objects are partial (a patch, a replica count), so they are
    // not shown to policies written for whole objects: the whole objects after the change are
    // what `--manifest` (or the rendered chart) gives.
    let plan_value = serde_json::to_value(plan).unwrap_or(Value::Null);
    let mut docs = vec![Document { path: PathBuf::from("plan"), index: 0, line: 1, value: plan_value }];
    docs.extend(inputs.manifests.iter().cloned());
    let namespaces = set.conftest.as_ref().map_or(0, |c| c.namespaces().len());
    let summary = format!(
        "{namespaces} Rego packages and {} Gatekeeper constraints evaluated over {} inputs (the plan and {} manifests)",
        set.constraints.len(),
        docs.len(),
        inputs.manifests.len()
    );
    cite.add(Verdict::Pass, "policies", "plan", "policies", None, summary);
    let origins: Vec<String> = docs.iter().map(Document::origin).collect();
    // The plan is cited by its own content hash (the one approvals sign), each manifest by the
    // hash of its document.
    let hashes: Vec<ContentHash> =
        std::iter::once(cite.plan_hash).chain(docs.iter().skip(1).map(|d| hash_json(&d.value))).collect();
    let by_origin: std::collections::HashMap<&str, ContentHash> =
        origins.iter().map(String::as_str).zip(hashes.iter().copied()).collect();
    let hash_of = |origin: &str| by_origin.get(origin).copied();
    if let Some(c) = &set.conftest {
        match c.test(&docs) {
            Err(e) => cite.add(Verdict::Block, "conftest", "policies", "", None, format!("evaluation failed: {e}")),
            Ok(findings) => {
                for f in findings {
                    let doc_hash = hash_of(&f.input);
                    let verdict = match f.severity {
                        Severity::Failure => Verdict::Block,
                        Severity::Warning if config.warnings_block => Verdict::Block,
                        Severity::Warning | Severity::Exception => Verdict::Pass,
                    };
                    let label = match f.severity {
                        Severity::Failure => "",
                        Severity::Warning => "warning: ",
                        Severity::Exception => "exception: ",
                    };
                    let source = f.policy.display().to_string();
                    cite.add(
                        verdict,
                        format!("{}.{}", f.namespace, f.rule),
                        f.input,
                        &source,
                        doc_hash,
                        format!("{label}{}", f.msg),
                    );
                }
            }
        }
    }
    let inventory = Inventory::new();
    // Kubernetes objects as Gatekeeper reviews them, once each.
    let reviews: Vec<Option<(Review, Prepared)>> = docs
        .iter()
        .map(|d| {
            d.value.get("kind").is_some().then(|| {
                let r = Review::of_document(&d.value);
                let p = Prepared::new(&r.to_value());
                (r, p)
            })
        })
        .collect();
    // One evaluator per template, reused for every constraint and input.
    let mut evaluators: Vec<_> = set.templates.iter().map(|t| (t, t.evaluator(&inventory))).collect();
    for constraint in &set.constraints {
        let Some((template, ev)) = evaluators.iter_mut().find(|(t, _)| t.kind == constraint.kind) else { continue };
        let rule = format!("{}/{}", constraint.kind, constraint.name);
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                cite.add(Verdict::Block, &rule, "policies", "", None, e.to_string());
                continue;
            }
        };
        let source = template.path.display().to_string();
        let mut matched = 0usize;
        let parameters = Prepared::new(&constraint.parameters);
        for (i, review) in reviews.iter().enumerate() {
            let Some((review, prepared)) = review else { continue };
            let (origin, hash) = (origins.get(i).cloned().unwrap_or_default(), hashes.get(i).copied());
            match constraint.matches(review, &inventory) {
                Ok(false) => continue,
                Ok(true) => matched += 1,
                Err(e) => {
                    cite.add(Verdict::Block, &rule, origin, &source, hash, e.to_string());
                    continue;
                }
            }
            match template.violations_prepared(ev, constraint, prepared, &parameters) {
                Err(e) => cite.add(Verdict::Block, &rule, origin, &source, hash, format!("evaluation failed: {e}")),
                Ok(vs) => {
                    for v in vs {
                        let verdict = if v.enforcement_action == "deny" { Verdict::Block } else { Verdict::Pass };
                        let note = if verdict == Verdict::Pass {
                            format!("{}: ", v.enforcement_action)
                        } else {
                            String::new()
                        };
                        cite.add(verdict, &rule, origin.clone(), &source, hash, format!("{note}{}", v.msg));
                    }
                }
            }
        }
        if matched == 0 {
            cite.add(
                Verdict::Pass,
                &rule,
                "all inputs",
                &source,
                None,
                format!("matched none of the {} inputs (check its spec.match)", docs.len()),
            );
        }
    }
}

fn dry_run_gate(inputs: &PreflightInputs, config: &PreflightConfig, cite: &mut Cite<'_>) {
    if inputs.dry_runs.is_empty() {
        cite.add(
            Verdict::Insufficient,
            "dry-run",
            "--dry-run",
            "",
            None,
            "no dry-run result given: what the plan would change is unknown",
        );
        return;
    }
    for d in &inputs.dry_runs {
        let hash = ContentHash::of(d.text.as_bytes());
        match parse_dry_run(&d.text) {
            Err(message) => cite.add(Verdict::Block, "dry-run: parse", &d.path, &d.path, Some(hash), message),
            Ok(DryRun::Terraform { destroyed, replaced, drifted, changed }) => {
                let kinds = [
                    (&destroyed, config.allow_destroy, "terraform: destroy", "would be destroyed"),
                    (&replaced, config.allow_destroy, "terraform: replace", "would be destroyed and re-created"),
                    (
                        &drifted,
                        config.allow_drift,
                        "terraform: drift",
                        "changed outside Terraform; applying would overwrite it",
                    ),
                ];
                for (addresses, allowed, rule, what) in kinds {
                    let v = if allowed { Verdict::Pass } else { Verdict::Block };
                    for a in addresses {
                        cite.add(v, rule, format!("{}#{a}", d.path), &d.path, Some(hash), format!("{a} {what}"));
                    }
                }
                if destroyed.is_empty() && replaced.is_empty() && drifted.is_empty() {
                    cite.add(
                        Verdict::Pass,
                        "terraform: plan",
                        &d.path,
                        &d.path,
                        Some(hash),
                        format!("{changed} resources change in place or are created; none destroyed"),
                    );
                }
            }
            Ok(DryRun::KubectlDiff { objects, deleted }) => {
                for o in &deleted {
                    cite.add(
                        Verdict::Block,
                        "kubectl diff: delete",
                        format!("{}#{o}", d.path),
                        &d.path,
                        Some(hash),
                        format!("{o} would be deleted"),
                    );
                }
                if deleted.is_empty() {
                    cite.add(
                        Verdict::Pass,
                        "kubectl diff",
                        &d.path,
                        &d.path,
                        Some(hash),
                        format!("{} objects change, none deleted", objects.len()),
                    );
                }
            }
            Ok(DryRun::Server { errors, lines }) => {
                for e in &errors {
                    cite.add(Verdict::Block, "server dry run: error", &d.path, &d.path, Some(hash), e.clone());
                }
                if errors.is_empty() {
                    cite.add(
                        Verdict::Pass,
                        "server dry run",
                        &d.path,
                        &d.path,
                        Some(hash),
                        format!("{lines} objects accepted by the API server"),
                    );
                }
            }
        }
    }
}

/// A parsed dry-run result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DryRun {
    /// `terraform show -json` of a plan.
    Terraform {
        /// Addresses deleted.
        destroyed: Vec<String>,
        /// Addresses deleted and created again.
        replaced: Vec<String>,
        /// Addresses changed outside Terraform.
        drifted: Vec<String>,
        /// Resources created or updated in place.
        changed: usize,
    },
    /// `kubectl diff` output.
    KubectlDiff {
        /// Objects that change (`apps.v1.Deployment.shop.billing`).
        objects: Vec<String>,
        /// Objects that would be deleted.
        deleted: Vec<String>,
    },
    /// Output of a command run with `--dry-run=server`.
    Server {
        /// Error lines.
        errors: Vec<String>,
        /// Objects accepted.
        lines: usize,
    },
}

/// Recognises and parses a dry-run result: Terraform plan JSON (an object with
/// `resource_changes` or `format_version`), `kubectl diff` output (unified diff headers), or
/// server dry-run output (`... (server dry run)` lines and `Error from server` lines).
///
/// # Errors
/// A message when the text is none of these (an empty text included: it proves nothing).
pub fn parse_dry_run(text: &str) -> Result<DryRun, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("Terraform plan JSON: {e}"))?;
        if v.get("resource_changes").is_none() && v.get("format_version").is_none() {
            return Err(
                "JSON without `format_version` or `resource_changes`: not `terraform show -json` output".to_owned()
            );
        }
        let mut destroyed = Vec::new();
        let mut replaced = Vec::new();
        let mut changed = 0;
        for (i, rc) in v.get("resource_changes").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let address = rc
                .get("address")
                .and_then(Value::as_str)
                .map_or_else(|| format!("resource_changes[{i}]"), str::to_owned);
            let actions: Vec<&str> = rc
                .pointer("/change/actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match actions.as_slice() {
                ["delete"] => destroyed.push(address),
                ["delete", "create"] | ["create", "delete"] => replaced.push(address),
                ["no-op"] | ["read"] => {}
                ["create"] | ["update"] => changed += 1,
                other => return Err(format!("{address}: unknown actions {other:?}")),
            }
        }
        let drifted = v
            .get("resource_drift")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("address").and_then(Value::as_str).map(str::to_owned))
            .collect();
        return Ok(DryRun::Terraform { destroyed, replaced, drifted, changed });
    }
    if text.lines().any(|l| l.starts_with("diff ") || l.starts_with("--- ")) {
        let mut objects = BTreeSet::new();
        let mut deleted = Vec::new();
        let mut current: Option<String> = None;
        let (mut added, mut removed) = (0usize, 0usize);
        let close = |obj: Option<String>, added: usize, removed: usize, deleted: &mut Vec<String>| {
            if let Some(o) = obj
                && added == 0
                && removed > 0
            {
                deleted.push(o);
            }
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("diff ") {
                close(current.take(), added, removed, &mut deleted);
                (added, removed) = (0, 0);
                let name = rest.split_whitespace().last().and_then(|p| p.rsplit('/').next()).unwrap_or(rest).to_owned();
                objects.insert(name.clone());
                current = Some(name);
            } else if line.starts_with("+++") || line.starts_with("---") {
            } else if line.starts_with('+') {
                added += 1;
            } else if line.starts_with('-') {
                removed += 1;
            }
        }
        close(current, added, removed, &mut deleted);
        return Ok(DryRun::KubectlDiff { objects: objects.into_iter().collect(), deleted });
    }
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return Err("the dry-run output is empty: it proves nothing".to_owned());
    }
    let errors: Vec<String> =
        lines.iter().filter(|l| l.starts_with("Error") || l.starts_with("error:")).map(|l| (*l).to_owned()).collect();
    let accepted = lines.iter().filter(|l| l.ends_with("(server dry run)") || l.ends_with("(dry run)")).count();
    if errors.is_empty() && accepted == 0 {
        return Err("neither Terraform plan JSON, nor kubectl diff, nor server dry-run output".to_owned());
    }
    Ok(DryRun::Server { errors, lines: accepted })
}

fn budget_gate(budget: Option<BudgetInput>, config: &PreflightConfig, cite: &mut Cite<'_>) {
    let Some(b) = budget else {
        cite.add(
            Verdict::Insufficient,
            "error budget",
            "--budget",
            "",
            None,
            "no error budget given: whether the service can afford a change is unknown",
        );
        return;
    };
    let hash = Some(ContentHash::of(format!("{}:{}", b.remaining, b.burn_rate).as_bytes()));
    if !b.remaining.is_finite() || !b.burn_rate.is_finite() {
        cite.add(
            Verdict::Insufficient,
            "error budget",
            "budget",
            "budget",
            hash,
            format!("budget {} and burn rate {} are not both numbers", b.remaining, b.burn_rate),
        );
        return;
    }
    if b.remaining < config.min_budget_remaining {
        cite.add(
            Verdict::Block,
            "error budget: remaining",
            "budget.remaining",
            "budget",
            hash,
            format!(
                "{:.1}% of the error budget left, below the {:.1}% floor",
                b.remaining * 100.0,
                config.min_budget_remaining * 100.0
            ),
        );
    }
    if b.burn_rate > config.max_burn_rate {
        cite.add(
            Verdict::Block,
            "error budget: burn rate",
            "budget.burn_rate",
            "budget",
            hash,
            format!("burning at {:.2}x, above the {:.2}x limit", b.burn_rate, config.max_burn_rate),
        );
    }
    if b.remaining >= config.min_budget_remaining && b.burn_rate <= config.max_burn_rate {
        cite.add(
            Verdict::Pass,
            "error budget",
            "budget",
            "budget",
            hash,
            format!("{:.1}% left, burning at {:.2}x", b.remaining * 100.0, b.burn_rate),
        );
    }
}

fn freeze_gate(plan: &Plan, freezes: Option<&[FreezeWindow]>, at: Timestamp, cite: &mut Cite<'_>) {
    let Some(freezes) = freezes else {
        cite.add(
            Verdict::Insufficient,
            "change windows",
            "--freeze",
            "",
            None,
            "no change calendar given: whether changes are frozen now is unknown",
        );
        return;
    };
    let mut blocked = false;
    for (i, w) in freezes.iter().enumerate() {
        let covers = w.services.is_empty() || plan.blast_radius.iter().any(|s| w.services.contains(s));
        if covers && w.start <= at && at <= w.end {
            blocked = true;
            let hash = Some(hash_json(&serde_json::to_value(w).unwrap_or(Value::Null)));
            cite.add(
                Verdict::Block,
                format!("freeze: {}", w.reason),
                format!("freezes[{i}]"),
                "freeze",
                hash,
                format!("changes are frozen from {} to {} ({})", w.start, w.end, w.reason),
            );
        }
    }
    if !blocked {
        cite.add(
            Verdict::Pass,
            "change windows",
            "freezes",
            "freeze",
            None,
            format!("{} windows, none covering {at} for these services", freezes.len()),
        );
    }
}

fn blast_gate(plan: &Plan, config: &PreflightConfig, cite: &mut Cite<'_>) {
    let n = plan.blast_radius.len();
    if n > config.max_blast_radius {
        cite.add(
            Verdict::Block,
            "blast radius",
            "plan.blast_radius",
            "plan",
            None,
            format!(
                "{n} services may be affected ({}), above the limit of {}",
                plan.blast_radius.join(", "),
                config.max_blast_radius
            ),
        );
    }
    if plan.risk > config.max_risk {
        cite.add(
            Verdict::Block,
            "risk",
            "plan.risk",
            "plan",
            None,
            format!("the plan's risk is {:?}, above the allowed {:?}", plan.risk, config.max_risk),
        );
    }
    for (i, s) in plan.steps.iter().enumerate() {
        if s.dry_run.is_empty() {
            cite.add(
                Verdict::Block,
                "dry run first",
                format!("plan.steps[{i}]"),
                "plan",
                None,
                format!("step {} has no dry-run command", s.index),
            );
        }
    }
    if n <= config.max_blast_radius && plan.risk <= config.max_risk {
        cite.add(Verdict::Pass, "blast radius", "plan", "plan", None, format!("{n} services, risk {:?}", plan.risk));
    }
}

/// Output formats of a preflight report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// The report as JSON.
    Json,
    /// Plain text.
    Text,
    /// JUnit XML: a test suite per gate, a failing test case per blocking reason.
    Junit,
    /// GitHub Actions workflow commands (`::error title=...::message`).
    Github,
    /// SARIF 2.1.0.
    Sarif,
    /// Test Anything Protocol.
    Tap,
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// GitHub's escaping of workflow command data and properties.
fn gh(s: &str, property: bool) -> String {
    let s = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    if property { s.replace(':', "%3A").replace(',', "%2C") } else { s }
}

impl PreflightReport {
    /// Every reason, with its gate.
    fn reasons(&self) -> impl Iterator<Item = (Gate, &Reason)> {
        self.gates.iter().flat_map(|g| g.reasons.iter().map(move |r| (g.gate, r)))
    }

    /// The report in `format`.
    #[must_use]
    pub fn render(&self, format: OutputFormat) -> String {
        let mut o = String::new();
        match format {
            OutputFormat::Json => {
                o = serde_json::to_string_pretty(self).unwrap_or_default();
                o.push('\n');
            }
            OutputFormat::Text => {
                let _ = writeln!(
                    o,
                    "preflight of {} ({}): {}",
                    self.plan,
                    self.plan_hash,
                    self.verdict.as_str().to_uppercase()
                );
                for g in &self.gates {
                    let _ = writeln!(o, "  {}: {}", g.gate.as_str(), g.verdict.as_str());
                    for r in &g.reasons {
                        let _ = writeln!(o, "    [{}] {} on {}: {}", r.verdict.as_str(), r.rule, r.input, r.message);
                    }
                }
                for s in &self.skipped {
                    let _ = writeln!(o, "  {}: skipped by configuration", s.as_str());
                }
            }
            OutputFormat::Junit => {
                let failures = self.reasons().filter(|(_, r)| r.verdict != Verdict::Pass).count();
                let _ = writeln!(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
                let _ = writeln!(
                    o,
                    "<testsuites name=\"faultlens preflight {}\" tests=\"{}\" failures=\"{failures}\">",
                    xml(&self.plan),
                    self.reasons().count()
                );
                for g in &self.gates {
                    let f = g.reasons.iter().filter(|r| r.verdict != Verdict::Pass).count();
                    let _ = writeln!(
                        o,
                        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\">",
                        g.gate.as_str(),
                        g.reasons.len()
                    );
                    for r in &g.reasons {
                        let _ = write!(o, "    <testcase classname=\"{}\" name=\"{}\">", xml(&r.rule), xml(&r.input));
                        if r.verdict != Verdict::Pass {
                            let _ =
                                write!(o, "<failure type=\"{}\" message=\"{}\"/>", r.verdict.as_str(), xml(&r.message));
                        }
                        let _ = writeln!(o, "</testcase>");
                    }
                    let _ = writeln!(o, "  </testsuite>");
                }
                let _ = writeln!(o, "</testsuites>");
            }
            OutputFormat::Github => {
                for (g, r) in self.reasons() {
                    let level = match r.verdict {
                        Verdict::Block => "error",
                        Verdict::Insufficient => "warning",
                        Verdict::Pass => "notice",
                    };
                    let title = format!("{} {}: {}", g.as_str(), r.verdict.as_str(), r.rule);
                    let _ = writeln!(
                        o,
                        "::{level} title={}::{} ({})",
                        gh(&title, true),
                        gh(&r.message, false),
                        gh(&r.input, false)
                    );
                }
                let _ = writeln!(o, "preflight {}: {}", self.plan, self.verdict.as_str());
            }
            OutputFormat::Sarif => {
                let mut rules: Vec<&str> = self.reasons().map(|(_, r)| r.rule.as_str()).collect();
                rules.sort_unstable();
                rules.dedup();
                let results: Vec<Value> = self
                    .reasons()
                    .map(|(g, r)| {
                        let level = match r.verdict {
                            Verdict::Block => "error",
                            Verdict::Insufficient => "warning",
                            Verdict::Pass => "note",
                        };
                        json!({
                            "ruleId": r.rule,
                            "level": level,
                            "message": {"text": r.message},
                            "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.input}}}],
                            "properties": {"gate": g.as_str(), "verdict": r.verdict, "sha256": r.evidence.sha256},
                        })
                    })
                    .collect();
                let sarif = json!({
                    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                    "version": "2.1.0",
                    "runs": [{
                        "tool": {"driver": {"name": "faultlens-preflight", "informationUri": "https://example.invalid/faultlens",
                            "rules": rules.iter().map(|r| json!({"id": r})).collect::<Vec<_>>()}},
                        "results": results,
                        "properties": {"plan": self.plan, "planHash": self.plan_hash, "verdict": self.verdict},
                    }],
                });
                o = serde_json::to_string_pretty(&sarif).unwrap_or_default();
                o.push('\n');
            }
            OutputFormat::Tap => {
                let n = self.reasons().count();
                let _ = writeln!(o, "TAP version 13\n1..{n}");
                for (i, (g, r)) in self.reasons().enumerate() {
                    let ok = if r.verdict == Verdict::Pass { "ok" } else { "not ok" };
                    let msg = r.message.replace(['\n', '#'], " ");
                    let _ = writeln!(
                        o,
                        "{ok} {} - {} {} on {}: {msg}",
                        i + 1,
                        g.as_str(),
                        r.rule.replace('#', " "),
                        r.input.replace('#', " ")
                    );
                }
                let _ = writeln!(o, "# preflight {}: {}", self.plan.replace('\n', " "), self.verdict.as_str());
            }
        }
        o
    }
}
