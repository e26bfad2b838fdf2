//! Fix plans: typed steps, each with its dry-run, apply, rollback and verification commands,
//! its risk and its blast radius, built from a root-cause hypothesis.
//!
//! A [`Plan`] carries the hypothesis's evidence (an [`EvidenceList`], never empty), so a plan
//! without evidence cannot be built. Its [`Plan::hash`] is the SHA-256 of its JSON; approvals
//! bind to it and the runner executes nothing else. A plan holds no clock reading: the same
//! hypothesis and configuration give a byte-identical plan.
//!
//! Every value that came from telemetry (service names, versions, configuration keys and
//! values) is untrusted. Commands are [`Cmd`]s, quoted only when rendered; Kubernetes names are
//! checked to be names; playbook values are marked `!unsafe` so Ansible never templates them.

use std::collections::BTreeMap;

use faultlens_core::{
    ChangeEvent, ChangeKind, Citation, Confidence, ContentHash, EvidenceList, Hypothesis, HypothesisKind, Topology,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::gitops::GitopsPatch;
use crate::shell::{Cmd, Script, ShellError};

/// The `format` of every plan.
pub const PLAN_FORMAT: &str = "faultlens.plan/v1";

/// Why a plan could not be built or rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The hypothesis gives nothing to act on.
    #[error("no fix for hypothesis {rank} ({kind}): {reason}")]
    NoAction {
        /// Its rank.
        rank: u32,
        /// Its kind.
        kind: String,
        /// Why.
        reason: String,
    },
    /// A value that must be a Kubernetes name is not one.
    #[error(
        "{field} {value:?} is not a Kubernetes object name (RFC 1123: lower-case letters, digits, `-` and `.`, at most 253)"
    )]
    BadName {
        /// What it names.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A command cannot be rendered.
    #[error(transparent)]
    Shell(#[from] ShellError),
    /// The plan cannot be serialised or parsed.
    #[error("plan JSON: {0}")]
    Json(String),
}

/// How risky a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Reversible, narrow, adds capacity or only proposes (a pull request).
    Low,
    /// Changes what runs, reversibly.
    Medium,
    /// Changes infrastructure, or reaches many services.
    High,
}

impl Risk {
    fn raised(self) -> Self {
        match self {
            Self::Low => Self::Medium,
            Self::Medium | Self::High => Self::High,
        }
    }
}

/// What a step does. Serialised flat into the step with an `action` tag, so policies read
/// `step.action`, `step.kind`, `step.target`, `step.replicas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// `kubectl rollout undo`: back to the previous revision.
    RolloutUndo {
        /// The workload kind (`Deployment`).
        kind: String,
        /// Its name.
        target: String,
    },
    /// `kubectl set image`.
    SetImage {
        /// The workload kind.
        kind: String,
        /// Its name.
        target: String,
        /// The container.
        container: String,
        /// The image to run.
        image: String,
        /// The image it runs now, for the rollback.
        previous_image: String,
    },
    /// `kubectl scale`.
    Scale {
        /// The workload kind.
        kind: String,
        /// Its name.
        target: String,
        /// Replicas to run.
        replicas: u32,
        /// Replicas it runs now, for the rollback.
        previous_replicas: u32,
    },
    /// `kubectl rollout restart`.
    Restart {
        /// The workload kind.
        kind: String,
        /// Its name.
        target: String,
    },
    /// `kubectl patch --type merge`.
    Patch {
        /// The object kind (`ConfigMap`).
        kind: String,
        /// Its name.
        target: String,
        /// The merge patch to apply.
        patch: Value,
        /// The merge patch that undoes it.
        undo_patch: Value,
    },
    /// `helm rollback` to the previous release.
    HelmRollback {
        /// The release.
        release: String,
    },
    /// `helm upgrade --reuse-values` with values set.
    HelmUpgrade {
        /// The release.
        release: String,
        /// The chart.
        chart: String,
        /// Values to set, by dotted path.
        values: BTreeMap<String, Value>,
    },
    /// `terraform plan` and `apply` limited with `-target`.
    TerraformApply {
        /// The configuration directory.
        dir: String,
        /// Resource addresses to target.
        targets: Vec<String>,
    },
    /// A generated Ansible playbook.
    Ansible {
        /// The host pattern.
        hosts: String,
        /// The playbook file the script runs (written next to the plan).
        playbook: String,
        /// The playbook's text.
        playbook_yaml: String,
        /// The inventory file.
        inventory: String,
    },
    /// A patch to a file in a git repository, on a new branch, with a pull request.
    GitopsPatch(GitopsPatch),
}

/// How to tell that a step worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verify {
    /// Commands that must succeed (`kubectl rollout status`).
    pub commands: Vec<Cmd>,
    /// A PromQL selector of the series that showed the fault, from the evidence.
    pub query: Option<String>,
    /// What should be seen.
    pub expect: String,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Position from 1.
    pub index: u32,
    /// One line saying what it does.
    pub title: String,
    /// The Kubernetes namespace it acts in (empty for Terraform, Ansible and GitOps steps).
    pub namespace: String,
    /// The kubeconfig context, when set.
    pub context: Option<String>,
    /// What it does.
    #[serde(flatten)]
    pub action: Action,
    /// Commands that show what would change, changing nothing.
    pub dry_run: Vec<Cmd>,
    /// Commands that make the change.
    pub apply: Vec<Cmd>,
    /// Commands that undo it.
    pub rollback: Vec<Cmd>,
    /// How to tell it worked.
    pub verify: Verify,
    /// How risky it is.
    pub risk: Risk,
    /// Services affected if it goes wrong: its service and those depending on it.
    pub blast_radius: Vec<String>,
}

/// A fix plan for one hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`PLAN_FORMAT`].
    pub format: String,
    /// `plan:<incident>:<rank>`.
    pub id: String,
    /// The incident.
    pub incident: String,
    /// The hypothesis's rank.
    pub hypothesis_rank: u32,
    /// The hypothesis's kind.
    pub hypothesis_kind: HypothesisKind,
    /// The hypothesis in one line.
    pub summary: String,
    /// Its confidence.
    pub confidence: Confidence,
    /// The service blamed.
    pub service: Option<String>,
    /// The change blamed.
    pub change_id: Option<String>,
    /// Who proposed the plan (approvals by the author do not count by default).
    pub author: String,
    /// The evidence behind it (never empty).
    pub evidence: EvidenceList,
    /// Runbook sections the hypothesis cites.
    pub citations: Vec<Citation>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The highest risk of any step.
    pub risk: Risk,
    /// Every service any step may affect.
    pub blast_radius: Vec<String>,
}

/// Which script to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScriptMode {
    /// Only the dry-run commands.
    DryRun,
    /// For each step: its dry run, then its change, then its verification.
    Apply,
    /// The rollback commands, last step first.
    Rollback,
}

/// Where and how plans act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanConfig {
    /// Kubernetes namespace of the services.
    pub namespace: String,
    /// kubeconfig context.
    pub context: Option<String>,
    /// Workload kind of a service.
    pub workload_kind: String,
    /// Replicas a service runs today (for scale steps and their rollback).
    pub current_replicas: u32,
    /// Replicas to scale a saturated service to.
    pub scale_to: u32,
    /// Name of a service's ConfigMap; `{service}` is replaced.
    pub configmap: String,
    /// Hops of callers counted in a step's blast radius.
    pub blast_hops: u32,
    /// A step reaching more services than this is one risk level higher.
    pub wide_blast: usize,
    /// How a bad deploy is undone.
    pub deploy_fix: DeployFix,
    /// A service's image repository, for `set image`; `{service}` is replaced.
    pub image: String,
    /// A service's container name, for `set image`; `{service}` is replaced.
    pub container: String,
    /// A service's chart, for `helm upgrade`; `{service}` is replaced.
    pub helm_chart: String,
    /// Values path of the image tag, for `helm upgrade`.
    pub helm_image_key: String,
    /// Revert deploys and configuration in this GitOps repository too.
    pub gitops: Option<GitopsConfig>,
    /// Terraform directory for infrastructure changes.
    pub terraform_dir: String,
    /// Restart services on these hosts with Ansible instead of Kubernetes.
    pub ansible_hosts: Option<String>,
    /// Ansible inventory file.
    pub ansible_inventory: String,
    /// Seconds `kubectl rollout status` waits.
    pub rollout_timeout_s: u32,
    /// The plan's author.
    pub author: String,
}

impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            namespace: "default".to_owned(),
            context: None,
            workload_kind: "Deployment".to_owned(),
            current_replicas: 2,
            scale_to: 4,
            configmap: "{service}-config".to_owned(),
            blast_hops: 3,
            wide_blast: 5,
            deploy_fix: DeployFix::RolloutUndo,
            image: "registry.example.com/{service}".to_owned(),
            container: "{service}".to_owned(),
            helm_chart: "charts/{service}".to_owned(),
            helm_image_key: "image.tag".to_owned(),
            gitops: None,
            terraform_dir: "infra".to_owned(),
            ansible_hosts: None,
            ansible_inventory: "inventory.ini".to_owned(),
            rollout_timeout_s: 300,
            author: "faultlens".to_owned(),
        }
    }
}

impl PlanConfig {
    /// Sets the namespace.
    #[must_use]
    pub fn with_namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// Sets the kubeconfig context.
    #[must_use]
    pub fn with_context(mut self, ctx: Option<String>) -> Self {
        self.context = ctx;
        self
    }

    /// Sets how a bad deploy is undone.
    #[must_use]
    pub fn with_deploy_fix(mut self, fix: DeployFix) -> Self {
        self.deploy_fix = fix;
        self
    }

    /// Reverts through a GitOps repository too.
    #[must_use]
    pub fn with_gitops(mut self, gitops: Option<GitopsConfig>) -> Self {
        self.gitops = gitops;
        self
    }

    /// Restarts with Ansible on these hosts.
    #[must_use]
    pub fn with_ansible_hosts(mut self, hosts: Option<String>) -> Self {
        self.ansible_hosts = hosts;
        self
    }

    /// Sets the plan's author.
    #[must_use]
    pub fn with_author(mut self, author: impl Into<String>) -> Self {
        self.author = author.into();
        self
    }
}

/// How a bad deploy is undone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployFix {
    /// `kubectl rollout undo` (the previous revision, whatever it was).
    #[default]
    RolloutUndo,
    /// `kubectl set image` to the version before the change.
    SetImage,
    /// `helm rollback` to the previous release.
    HelmRollback,
    /// `helm upgrade --reuse-values` with the image tag before the change.
    HelmUpgrade,
}

/// A GitOps repository holding each service's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GitopsConfig {
    /// Local clone.
    pub repo: String,
    /// A service's values file; `{service}` is replaced.
    pub values_file: String,
    /// Dotted path of the image tag in it.
    pub image_key: String,
    /// Dotted path under which configuration keys live.
    pub config_key: String,
    /// The branch pull requests target.
    pub base: String,
    /// `owner/name` on GitHub.
    pub github: Option<String>,
}

impl Default for GitopsConfig {
    fn default() -> Self {
        Self {
            repo: ".".to_owned(),
            values_file: "apps/{service}/values.yaml".to_owned(),
            image_key: "image.tag".to_owned(),
            config_key: "config".to_owned(),
            base: "main".to_owned(),
            github: None,
        }
    }
}

/// Checks a Kubernetes object name (RFC 1123 subdomain).
///
/// # Errors
/// [`PlanError::BadName`] when it is not one.
pub fn k8s_name(field: &'static str, value: &str) -> Result<String, PlanError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok { Ok(value.to_owned()) } else { Err(PlanError::BadName { field, value: value.to_owned() }) }
}

/// `key=value` of a configuration change's `from`/`to` (`flag.x=false`).
fn key_value(s: &str) -> Option<(String, String)> {
    s.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
}

struct Builder<'a> {
    config: &'a PlanConfig,
    topology: &'a Topology,
    query: Option<String>,
    steps: Vec<Step>,
}

impl Builder<'_> {
    fn kubectl(&self) -> Cmd {
        let mut c = Cmd::new("kubectl");
        if let Some(ctx) = &self.config.context {
            c = c.arg("--context").arg(ctx);
        }
        c.arg("--namespace").arg(&self.config.namespace)
    }

    fn blast(&self, service: &str) -> Vec<String> {
        let mut b: Vec<String> = std::iter::once(service.to_owned())
            .chain(self.topology.blast_radius(service, self.config.blast_hops).into_iter().map(|r| r.service))
            .collect();
        b.sort();
        b.dedup();
        b
    }

    /// The service's workload: its kind, its (checked) name, and `kind/name` as kubectl takes it.
    fn workload(&self, service: &str) -> Result<(String, String, String), PlanError> {
        let kind = self.config.workload_kind.clone();
        let target = k8s_name("service", service)?;
        let obj = format!("{}/{target}", kind.to_lowercase());
        Ok((kind, target, obj))
    }

    fn rollout_status(&self, obj: &str) -> Cmd {
        self.kubectl().args(["rollout", "status"]).arg(obj).arg(format!("--timeout={}s", self.config.rollout_timeout_s))
    }

    fn push(&mut self, service: &str, title: String, action: Action, risk: Risk, parts: Parts) {
        let blast_radius = self.blast(service);
        let risk = if blast_radius.len() > self.config.wide_blast { risk.raised() } else { risk };
        let kube = matches!(
            action,
            Action::RolloutUndo { .. }
                | Action::SetImage { .. }
                | Action::Scale { .. }
                | Action::Restart { .. }
                | Action::Patch { .. }
                | Action::HelmRollback { .. }
                | Action::HelmUpgrade { .. }
        );
        self.steps.push(Step {
            index: u32::try_from(self.steps.len() + 1).unwrap_or(u32::MAX),
            title,
            namespace: if kube { self.config.namespace.clone() } else { String::new() },
            context: if kube { self.config.context.clone() } else { None },
            action,
            dry_run: parts.dry_run,
            apply: parts.apply,
            rollback: parts.rollback,
            verify: Verify { commands: parts.verify, query: self.query.clone(), expect: parts.expect },
            risk,
            blast_radius,
        });
    }

    fn rollout_undo(&mut self, service: &str) -> Result<(), PlanError> {
        let (kind, target, obj) = self.workload(service)?;
        let undo = self.kubectl().args(["rollout", "undo"]).arg(&obj);
        let parts = Parts {
            dry_run: vec![undo.clone().arg("--dry-run=server")],
            apply: vec![undo.clone()],
            // Undoing the undo returns to the revision that ran before this step.
            rollback: vec![undo],
            verify: vec![self.rollout_status(&obj)],
            expect: "the rollout completes and the series returns to its band".to_owned(),
        };
        self.push(
            service,
            format!("roll {obj} back to its previous revision"),
            Action::RolloutUndo { kind, target },
            Risk::Medium,
            parts,
        );
        Ok(())
    }

    fn helm_rollback(&mut self, service: &str) -> Result<(), PlanError> {
        let release = k8s_name("release", service)?;
        let helm = self.helm();
        let rollback = helm.clone().arg("rollback").arg(&release);
        let parts = Parts {
            dry_run: vec![
                helm.clone().arg("history").arg(&release).args(["--max", "5"]),
                rollback.clone().arg("--dry-run"),
            ],
            apply: vec![rollback.clone().arg("--wait")],
            rollback: vec![rollback.arg("--wait")],
            verify: vec![helm.arg("status").arg(&release)],
            expect: "the release is deployed at the previous revision and the series returns to its band".to_owned(),
        };
        self.push(
            service,
            format!("roll Helm release {release} back"),
            Action::HelmRollback { release },
            Risk::Medium,
            parts,
        );
        Ok(())
    }

    fn helm(&self) -> Cmd {
        let mut helm = Cmd::new("helm");
        if let Some(ctx) = &self.config.context {
            helm = helm.arg("--kube-context").arg(ctx);
        }
        helm.arg("--namespace").arg(&self.config.namespace)
    }

    fn helm_upgrade(&mut self, service: &str, tag: &str) -> Result<(), PlanError> {
        let release = k8s_name("release", service)?;
        let chart = self.config.helm_chart.replace("{service}", service);
        let key = self.config.helm_image_key.clone();
        let values = BTreeMap::from([(key.clone(), Value::String(tag.to_owned()))]);
        let upgrade = self
            .helm()
            .arg("upgrade")
            .arg(&release)
            .arg(&chart)
            .arg("--reuse-values")
            .arg("--set-json")
            .arg(format!("{key}={}", Value::String(tag.to_owned())));
        let parts = Parts {
            dry_run: vec![upgrade.clone().arg("--dry-run")],
            apply: vec![upgrade.arg("--wait")],
            rollback: vec![self.helm().arg("rollback").arg(&release).arg("--wait")],
            verify: vec![self.helm().arg("status").arg(&release)],
            expect: format!("the release runs {key}={tag} and the series returns to its band"),
        };
        self.push(
            service,
            format!("upgrade Helm release {release} with {key}={tag}"),
            Action::HelmUpgrade { release, chart, values },
            Risk::Medium,
            parts,
        );
        Ok(())
    }

    fn set_image(&mut self, service: &str, from: &str, to: &str) -> Result<(), PlanError> {
        let (kind, target, obj) = self.workload(service)?;
        let container = k8s_name("container", &self.config.container.replace("{service}", service))?;
        let repo = self.config.image.replace("{service}", service);
        let image = format!("{repo}:{from}");
        let previous_image = format!("{repo}:{to}");
        let set = |img: &str| self.kubectl().args(["set", "image"]).arg(&obj).arg(format!("{container}={img}"));
        let parts = Parts {
            dry_run: vec![set(&image).arg("--dry-run=server")],
            apply: vec![set(&image)],
            rollback: vec![set(&previous_image)],
            verify: vec![self.rollout_status(&obj)],
            expect: format!("every pod runs {image} and the series returns to its band"),
        };
        self.push(
            service,
            format!("set the image of {obj} back to {image}"),
            Action::SetImage { kind, target, container, image, previous_image },
            Risk::Medium,
            parts,
        );
        Ok(())
    }

    fn restart(&mut self, service: &str) -> Result<(), PlanError> {
        if let Some(hosts) = self.config.ansible_hosts.clone() {
            return self.ansible_restart(service, &hosts);
        }
        let (kind, target, obj) = self.workload(service)?;
        let restart = self.kubectl().args(["rollout", "restart"]).arg(&obj);
        let parts = Parts {
            dry_run: vec![restart.clone().arg("--dry-run=server")],
            apply: vec![restart],
            rollback: vec![self.kubectl().args(["rollout", "undo"]).arg(&obj)],
            verify: vec![self.rollout_status(&obj)],
            expect: "fresh pods become ready and the series returns to its band".to_owned(),
        };
        self.push(service, format!("restart the pods of {obj}"), Action::Restart { kind, target }, Risk::Low, parts);
        Ok(())
    }

    fn scale(&mut self, service: &str, replicas: u32, previous: u32) -> Result<(), PlanError> {
        let (kind, target, obj) = self.workload(service)?;
        let scale = |n: u32| self.kubectl().arg("scale").arg(&obj).arg(format!("--replicas={n}"));
        let parts = Parts {
            dry_run: vec![scale(replicas).arg("--dry-run=server")],
            apply: vec![scale(replicas)],
            rollback: vec![scale(previous)],
            verify: vec![self.rollout_status(&obj)],
            expect: format!("{replicas} replicas ready and the series returns to its band"),
        };
        let risk = if replicas == 0 {
            Risk::High
        } else if replicas >= previous {
            Risk::Low
        } else {
            Risk::Medium
        };
        self.push(
            service,
            format!("scale {obj} from {previous} to {replicas} replicas"),
            Action::Scale { kind, target, replicas, previous_replicas: previous },
            risk,
            parts,
        );
        Ok(())
    }

    fn patch_config(&mut self, service: &str, key: &str, value: &str, current: &str) -> Result<(), PlanError> {
        let target = k8s_name("configmap", &self.config.configmap.replace("{service}", service))?;
        let patch = json!({"data": {key: value}});
        let undo_patch = json!({"data": {key: current}});
        let obj = format!("configmap/{target}");
        let patch_cmd =
            |p: &Value| self.kubectl().arg("patch").arg(&obj).args(["--type", "merge", "--patch"]).arg(p.to_string());
        let parts = Parts {
            dry_run: vec![patch_cmd(&patch).arg("--dry-run=server")],
            apply: vec![patch_cmd(&patch)],
            rollback: vec![patch_cmd(&undo_patch)],
            verify: vec![self.kubectl().arg("get").arg(&obj).args(["--output", "json"])],
            expect:
                "the ConfigMap holds the previous value; the service picks it up (restart if it reads config at start)"
                    .to_owned(),
        };
        self.push(
            service,
            format!("set {key} in {obj} back to its previous value"),
            Action::Patch { kind: "ConfigMap".to_owned(), target, patch, undo_patch },
            Risk::Medium,
            parts,
        );
        Ok(())
    }

    fn gitops(&mut self, service: &str, change: &ChangeEvent, key: String, from: &str, to: &str) {
        let Some(g) = self.config.gitops.clone() else { return };
        let file = g.values_file.replace("{service}", service);
        let branch = format!("faultlens/revert-{}", branch_safe(&change.id));
        let title = format!("Revert {} ({}): set {key} back to {from}", change.id, service);
        let set = BTreeMap::from([(key.clone(), Value::String(from.to_owned()))]);
        let expect = BTreeMap::from([(key, Value::String(to.to_owned()))]);
        let gitops_cmd = |extra: &[&str]| {
            let mut c = Cmd::new("faultlens").args(["gitops", "apply", "--repo"]).arg(&g.repo).arg("--file").arg(&file);
            for (k, v) in &set {
                c = c.arg("--set").arg(format!("{k}={}", v.as_str().unwrap_or_default()));
            }
            for (k, v) in &expect {
                c = c.arg("--expect").arg(format!("{k}={}", v.as_str().unwrap_or_default()));
            }
            c.arg("--branch")
                .arg(&branch)
                .arg("--base")
                .arg(&g.base)
                .arg("--message")
                .arg(&title)
                .args(extra.iter().copied())
        };
        let parts = Parts {
            dry_run: vec![gitops_cmd(&["--dry-run"])],
            apply: vec![gitops_cmd(&[])],
            rollback: vec![
                Cmd::new("git").arg("-C").arg(&g.repo).arg("switch").arg(&g.base),
                Cmd::new("git").arg("-C").arg(&g.repo).args(["branch", "-D"]).arg(&branch),
            ],
            verify: vec![Cmd::new("git").arg("-C").arg(&g.repo).args(["log", "-1", "--format=%H %s"]).arg(&branch)],
            expect: "a branch with one commit and a pull request to review; the cluster changes when it merges"
                .to_owned(),
        };
        self.push(
            service,
            format!("open a pull request reverting {} in {file}", change.id),
            Action::GitopsPatch(GitopsPatch {
                repo: g.repo.into(),
                file,
                set,
                expect,
                branch,
                base: g.base,
                message: title,
                github: g.github,
            }),
            Risk::Low,
            parts,
        );
    }

    fn terraform(&mut self, service: &str, targets: Vec<String>) {
        let dir = self.config.terraform_dir.clone();
        let tf = || Cmd::new("terraform").arg(format!("-chdir={dir}"));
        let target_args: Vec<String> = targets.iter().map(|t| format!("-target={t}")).collect();
        let parts = Parts {
            dry_run: vec![
                tf().args(["plan", "-input=false", "-out=faultlens.tfplan"]).args(target_args.clone()),
                tf().args(["show", "-json", "faultlens.tfplan"]),
            ],
            apply: vec![tf().args(["apply", "-input=false", "faultlens.tfplan"])],
            rollback: vec![
                Cmd::new("git").arg("-C").arg(&dir).args(["checkout", "HEAD~1", "--", "."]),
                tf().args(["apply", "-input=false", "-auto-approve"]).args(target_args),
            ],
            verify: vec![tf().args(["plan", "-input=false", "-detailed-exitcode"])],
            expect: "no drift left on the targeted resources".to_owned(),
        };
        self.push(
            service,
            format!("re-apply Terraform in {dir} for {}", targets.join(", ")),
            Action::TerraformApply { dir, targets },
            Risk::High,
            parts,
        );
    }

    fn ansible_restart(&mut self, service: &str, hosts: &str) -> Result<(), PlanError> {
        let playbook = format!("restart-{}.yml", branch_safe(service));
        let unsafe_str = |s: &str| {
            serde_yaml_ng::Value::Tagged(Box::new(serde_yaml_ng::value::TaggedValue {
                tag: serde_yaml_ng::value::Tag::new("unsafe"),
                value: serde_yaml_ng::Value::String(s.to_owned()),
            }))
        };
        let mut systemd = serde_yaml_ng::Mapping::new();
        systemd.insert("name".into(), unsafe_str(service));
        systemd.insert("state".into(), "restarted".into());
        let mut task = serde_yaml_ng::Mapping::new();
        task.insert("name".into(), unsafe_str(&format!("restart {service}")));
        task.insert("ansible.builtin.systemd".into(), serde_yaml_ng::Value::Mapping(systemd));
        let mut play = serde_yaml_ng::Mapping::new();
        play.insert("name".into(), unsafe_str(&format!("faultlens: restart {service}")));
        play.insert("hosts".into(), unsafe_str(hosts));
        play.insert("become".into(), true.into());
        play.insert("gather_facts".into(), false.into());
        play.insert("tasks".into(), serde_yaml_ng::Value::Sequence(vec![serde_yaml_ng::Value::Mapping(task)]));
        let doc = serde_yaml_ng::Value::Sequence(vec![serde_yaml_ng::Value::Mapping(play)]);
        let playbook_yaml = serde_yaml_ng::to_string(&doc).map_err(|e| PlanError::Json(e.to_string()))?;
        let inventory = self.config.ansible_inventory.clone();
        let run = || Cmd::new("ansible-playbook").arg("--inventory").arg(&inventory).arg(&playbook);
        let parts = Parts {
            dry_run: vec![run().arg("--syntax-check"), run().args(["--check", "--diff"])],
            apply: vec![run()],
            rollback: Vec::new(),
            verify: vec![Cmd::new("ansible").arg("--inventory").arg(&inventory).arg(hosts).args(["--module-name", "ansible.builtin.systemd", "--args"]).arg(format!("name={service}"))],
            expect: "the unit is active on every host and the series returns to its band (a restart has nothing to roll back)".to_owned(),
        };
        self.push(
            service,
            format!("restart {service} on {hosts} with Ansible"),
            Action::Ansible { hosts: hosts.to_owned(), playbook, playbook_yaml, inventory },
            Risk::Medium,
            parts,
        );
        Ok(())
    }
}

struct Parts {
    dry_run: Vec<Cmd>,
    apply: Vec<Cmd>,
    rollback: Vec<Cmd>,
    verify: Vec<Cmd>,
    expect: String,
}

/// `s` with everything but letters, digits, `.`, `_` and `-` turned into `-` (for branch and
/// file names).
fn branch_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect()
}

/// The plan for `hypothesis`, acting on its service and change (looked up in `changes`).
///
/// - a deploy: roll the workload back (Helm when configured), and revert the image tag in the
///   GitOps repository when one is configured (so a syncing controller does not redeploy it);
/// - a configuration or flag change: set the key back in the service's ConfigMap (and GitOps);
/// - a scale change: scale back to the previous count;
/// - an infrastructure change: re-apply Terraform for the changed resource;
/// - resource exhaustion or a traffic surge: scale out; a service or dependency fault: restart
///   (with Ansible when hosts are configured).
///
/// # Errors
/// [`PlanError::NoAction`] when the hypothesis names no service or its kind has no fix,
/// [`PlanError::BadName`] when a name it would act on is not a Kubernetes name.
pub fn plan_for(
    incident: &str,
    hypothesis: &Hypothesis,
    changes: &[ChangeEvent],
    topology: &Topology,
    config: &PlanConfig,
) -> Result<Plan, PlanError> {
    let no_action = |reason: &str| PlanError::NoAction {
        rank: hypothesis.rank,
        kind: format!("{:?}", hypothesis.kind).to_lowercase(),
        reason: reason.to_owned(),
    };
    let change = hypothesis.change_id.as_ref().and_then(|id| changes.iter().find(|c| c.id == *id));
    let service = hypothesis
        .service
        .clone()
        .or_else(|| change.map(|c| c.service.clone()))
        .ok_or_else(|| no_action("it names no service"))?;
    let query = hypothesis.evidence.as_slice().iter().find(|e| e.query.contains('{')).map(|e| e.query.clone());
    let mut b = Builder { config, topology, query, steps: Vec::new() };
    match (hypothesis.kind, change) {
        (HypothesisKind::Change, None) => {
            return Err(no_action("the change it blames is not among the bundle's changes"));
        }
        (HypothesisKind::Change, Some(c)) => match c.kind {
            ChangeKind::Deploy | ChangeKind::Rollback => {
                let versions = c.from.as_deref().zip(c.to.as_deref());
                match (config.deploy_fix, versions) {
                    (DeployFix::RolloutUndo, _) => b.rollout_undo(&service)?,
                    (DeployFix::HelmRollback, _) => b.helm_rollback(&service)?,
                    (DeployFix::SetImage, Some((from, to))) => b.set_image(&service, from, to)?,
                    (DeployFix::HelmUpgrade, Some((from, _))) => b.helm_upgrade(&service, from)?,
                    (DeployFix::SetImage | DeployFix::HelmUpgrade, None) => {
                        return Err(no_action("the deploy does not record the versions before and after"));
                    }
                }
                if let (Some(from), Some(to)) = (&c.from, &c.to) {
                    let key = config.gitops.as_ref().map(|g| g.image_key.clone()).unwrap_or_default();
                    b.gitops(&service, c, key, from, to);
                }
            }
            ChangeKind::Config | ChangeKind::Flag => {
                let (Some((key, old)), Some((_, new))) =
                    (c.from.as_deref().and_then(key_value), c.to.as_deref().and_then(key_value))
                else {
                    return Err(no_action("the configuration change does not record `key=value` before and after"));
                };
                b.patch_config(&service, &key, &old, &new)?;
                let prefix = config.gitops.as_ref().map(|g| g.config_key.clone()).unwrap_or_default();
                b.gitops(&service, c, format!("{prefix}.{key}"), &old, &new);
            }
            ChangeKind::Scale => {
                let parse = |s: &Option<String>| s.as_deref().and_then(|v| v.trim().parse::<u32>().ok());
                let (Some(from), Some(to)) = (parse(&c.from), parse(&c.to)) else {
                    return Err(no_action("the scale change does not record replica counts before and after"));
                };
                b.scale(&service, from, to)?;
            }
            ChangeKind::Infra => {
                let target = c.to.clone().or_else(|| c.description.clone()).unwrap_or_else(|| service.clone());
                b.terraform(&service, vec![target]);
            }
        },
        (HypothesisKind::Resource | HypothesisKind::Traffic, _) => {
            b.scale(&service, config.scale_to.max(config.current_replicas + 1), config.current_replicas)?;
        }
        (HypothesisKind::Service | HypothesisKind::Dependency, _) => b.restart(&service)?,
        (HypothesisKind::Unknown, _) => return Err(no_action("the cause is unknown; no action is safe to propose")),
    }
    let risk = b.steps.iter().map(|s| s.risk).max().unwrap_or(Risk::Low);
    let mut blast_radius: Vec<String> = b.steps.iter().flat_map(|s| s.blast_radius.iter().cloned()).collect();
    blast_radius.sort();
    blast_radius.dedup();
    Ok(Plan {
        format: PLAN_FORMAT.to_owned(),
        id: format!("plan:{incident}:{}", hypothesis.rank),
        incident: incident.to_owned(),
        hypothesis_rank: hypothesis.rank,
        hypothesis_kind: hypothesis.kind,
        summary: hypothesis.summary.clone(),
        confidence: hypothesis.confidence,
        service: Some(service),
        change_id: hypothesis.change_id.clone(),
        author: config.author.clone(),
        evidence: hypothesis.evidence.clone(),
        citations: hypothesis.citations.clone(),
        steps: b.steps,
        risk,
        blast_radius,
    })
}

impl Plan {
    /// The plan as pretty JSON with a final newline.
    ///
    /// # Errors
    /// [`PlanError::Json`] if serialisation fails.
    pub fn to_json(&self) -> Result<String, PlanError> {
        let mut s = serde_json::to_string_pretty(self).map_err(|e| PlanError::Json(e.to_string()))?;
        s.push('\n');
        Ok(s)
    }

    /// Parses a plan written by [`Plan::to_json`].
    ///
    /// # Errors
    /// [`PlanError::Json`] naming the line and column, or a wrong `format`.
    pub fn from_json(text: &str) -> Result<Self, PlanError> {
        let plan: Self = serde_json::from_str(text).map_err(|e| PlanError::Json(e.to_string()))?;
        if plan.format != PLAN_FORMAT {
            return Err(PlanError::Json(format!("format is {:?}, expected {PLAN_FORMAT:?}", plan.format)));
        }
        Ok(plan)
    }

    /// The plan's content hash: SHA-256 of its compact JSON. Approvals bind to it.
    ///
    /// # Errors
    /// [`PlanError::Json`] if serialisation fails.
    pub fn hash(&self) -> Result<ContentHash, PlanError> {
        serde_json::to_vec(self).map(|b| ContentHash::of(&b)).map_err(|e| PlanError::Json(e.to_string()))
    }

    /// The plan as a POSIX shell script.
    ///
    /// # Errors
    /// [`PlanError::Shell`] when a value cannot be an argument (a NUL byte).
    pub fn script(&self, mode: ScriptMode) -> Result<String, PlanError> {
        let mut s = Script::default();
        s.comment(format!("{} ({}), hash {}", self.id, mode_name(mode), self.hash()?));
        s.comment(format!("hypothesis {}: {}", self.hypothesis_rank, self.summary));
        let steps: Vec<&Step> =
            if mode == ScriptMode::Rollback { self.steps.iter().rev().collect() } else { self.steps.iter().collect() };
        for step in steps {
            s.comment(format!(
                "step {}: {} (risk {:?}, blast radius {})",
                step.index,
                step.title,
                step.risk,
                step.blast_radius.join(", ")
            ));
            let cmds: Vec<&Cmd> = match mode {
                ScriptMode::DryRun => step.dry_run.iter().collect(),
                ScriptMode::Apply => step.dry_run.iter().chain(&step.apply).chain(&step.verify.commands).collect(),
                ScriptMode::Rollback => step.rollback.iter().collect(),
            };
            if cmds.is_empty() {
                s.comment("nothing to run for this step");
            }
            for c in cmds {
                s.run(c.clone());
            }
        }
        Ok(s.render()?)
    }

    /// The Kubernetes objects the plan writes, as far as it knows them: merge patches and
    /// replica counts with their kind, name and namespace. They are partial (the rest of each
    /// object is whatever the cluster holds), so they serve type checks and display; policies
    /// see the plan itself and the whole manifests.
    #[must_use]
    pub fn objects(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for step in &self.steps {
            let meta = |name: &str| json!({"name": name, "namespace": step.namespace});
            match &step.action {
                Action::Patch { kind, target, patch, .. } => {
                    let mut obj = patch.clone();
                    if let Some(m) = obj.as_object_mut() {
                        m.insert("apiVersion".to_owned(), json!("v1"));
                        m.insert("kind".to_owned(), json!(kind));
                        m.insert("metadata".to_owned(), meta(target));
                    }
                    out.push(obj);
                }
                Action::Scale { kind, target, replicas, .. } => {
                    out.push(json!({"apiVersion": "apps/v1", "kind": kind, "metadata": meta(target), "spec": {"replicas": replicas}}));
                }
                _ => {}
            }
        }
        out
    }
}

fn mode_name(mode: ScriptMode) -> &'static str {
    match mode {
        ScriptMode::DryRun => "dry run",
        ScriptMode::Apply => "apply",
        ScriptMode::Rollback => "rollback",
    }
}

#[cfg(test)]
mod tests {
    use faultlens_core::Timestamp;

    use super::*;

    use faultlens_sim::plans::hypothesis;

    fn change(id: &str, kind: ChangeKind, from: &str, to: &str) -> ChangeEvent {
        ChangeEvent {
            id: id.to_owned(),
            at: Timestamp::from_millis(0),
            service: "billing".to_owned(),
            kind,
            from: Some(from.to_owned()),
            to: Some(to.to_owned()),
            source: Some("argocd".to_owned()),
            author: None,
            description: None,
        }
    }

    fn topo() -> Topology {
        Topology::from_edges([("frontend", "billing"), ("checkout", "billing")])
    }

    #[test]
    fn a_bad_deploy_is_rolled_back_and_reverted_in_git() {
        let c = change("argocd:billing:7", ChangeKind::Deploy, "v1.4.2", "v1.5.0");
        let config = PlanConfig::default().with_namespace("shop").with_gitops(Some(GitopsConfig::default()));
        let plan =
            plan_for("inc-1", &hypothesis(HypothesisKind::Change, "billing", Some(&c.id)), &[c], &topo(), &config)
                .unwrap();
        assert_eq!(plan.steps.len(), 2);
        let undo = &plan.steps[0];
        assert!(matches!(undo.action, Action::RolloutUndo { .. }));
        assert_eq!(undo.apply[0].render().unwrap(), "kubectl --namespace shop rollout undo deployment/billing");
        assert_eq!(undo.blast_radius, ["billing", "checkout", "frontend"]);
        assert_eq!(undo.verify.query.as_deref(), Some("http_errors_ratio{service=\"billing\"}"));
        let Action::GitopsPatch(GitopsPatch { set, expect, branch, .. }) = &plan.steps[1].action else { panic!() };
        assert_eq!(set["image.tag"], "v1.4.2");
        assert_eq!(expect["image.tag"], "v1.5.0");
        assert_eq!(branch, "faultlens/revert-argocd-billing-7");
        assert_eq!(plan.risk, Risk::Medium);
        // Deterministic, and the hash follows the content.
        let again = plan_for(
            "inc-1",
            &hypothesis(HypothesisKind::Change, "billing", Some("argocd:billing:7")),
            &[change("argocd:billing:7", ChangeKind::Deploy, "v1.4.2", "v1.5.0")],
            &topo(),
            &config,
        )
        .unwrap();
        assert_eq!(plan.to_json().unwrap(), again.to_json().unwrap());
        assert_eq!(Plan::from_json(&plan.to_json().unwrap()).unwrap(), plan);
        let mut edited = plan.clone();
        edited.steps[0].namespace = "prod".into();
        assert_ne!(edited.hash().unwrap(), plan.hash().unwrap());
    }

    #[test]
    fn config_flag_scale_and_infra_changes() {
        let cfg = PlanConfig::default();
        let flag = change("c:1", ChangeKind::Flag, "flag.new_pricing=false", "flag.new_pricing=true");
        let p =
            plan_for("i", &hypothesis(HypothesisKind::Change, "billing", Some("c:1")), &[flag], &topo(), &cfg).unwrap();
        let Action::Patch { patch, undo_patch, .. } = &p.steps[0].action else { panic!() };
        assert_eq!(patch, &json!({"data": {"flag.new_pricing": "false"}}));
        assert_eq!(undo_patch, &json!({"data": {"flag.new_pricing": "true"}}));
        let scale = change("c:2", ChangeKind::Scale, "4", "1");
        let p = plan_for("i", &hypothesis(HypothesisKind::Change, "billing", Some("c:2")), &[scale], &topo(), &cfg)
            .unwrap();
        assert!(matches!(p.steps[0].action, Action::Scale { replicas: 4, previous_replicas: 1, .. }));
        let infra = change("tf:3", ChangeKind::Infra, "", "aws_security_group.db");
        let p = plan_for("i", &hypothesis(HypothesisKind::Change, "billing", Some("tf:3")), &[infra], &topo(), &cfg)
            .unwrap();
        assert_eq!(
            p.steps[0].dry_run[0].render().unwrap(),
            "terraform -chdir=infra plan -input=false -out=faultlens.tfplan -target=aws_security_group.db"
        );
        assert_eq!(p.risk, Risk::High);
    }

    #[test]
    fn resource_service_and_unknown_hypotheses() {
        let cfg = PlanConfig::default();
        let p = plan_for("i", &hypothesis(HypothesisKind::Resource, "billing", None), &[], &topo(), &cfg).unwrap();
        assert!(matches!(p.steps[0].action, Action::Scale { replicas: 4, previous_replicas: 2, .. }));
        let p = plan_for("i", &hypothesis(HypothesisKind::Service, "billing", None), &[], &topo(), &cfg).unwrap();
        assert!(matches!(p.steps[0].action, Action::Restart { .. }));
        assert!(matches!(
            plan_for("i", &hypothesis(HypothesisKind::Unknown, "billing", None), &[], &topo(), &cfg),
            Err(PlanError::NoAction { .. })
        ));
        assert!(matches!(
            plan_for("i", &hypothesis(HypothesisKind::Change, "billing", Some("gone")), &[], &topo(), &cfg),
            Err(PlanError::NoAction { .. })
        ));
    }

    #[test]
    fn hostile_names_are_refused_and_hostile_values_quoted() {
        let cfg = PlanConfig::default();
        let bad = plan_for("i", &hypothesis(HypothesisKind::Service, "a;rm -rf /", None), &[], &topo(), &cfg);
        assert!(matches!(bad, Err(PlanError::BadName { .. })));
        let flag = change("c:1", ChangeKind::Config, "k=$(reboot)", "k=`id`");
        let p =
            plan_for("i", &hypothesis(HypothesisKind::Change, "billing", Some("c:1")), &[flag], &topo(), &cfg).unwrap();
        let script = p.script(ScriptMode::Apply).unwrap();
        assert!(script.contains(r#"'{"data":{"k":"$(reboot)"}}'"#), "{script}");
    }

    #[test]
    fn deploy_fixes_by_configuration() {
        let c = change("d:1", ChangeKind::Deploy, "v1.4.2", "v1.5.0");
        let h = hypothesis(HypothesisKind::Change, "billing", Some("d:1"));
        let plan = |fix| {
            plan_for("i", &h, std::slice::from_ref(&c), &topo(), &PlanConfig::default().with_deploy_fix(fix)).unwrap()
        };
        let set = plan(DeployFix::SetImage);
        assert_eq!(
            set.steps[0].apply[0].render().unwrap(),
            "kubectl --namespace default set image deployment/billing billing=registry.example.com/billing:v1.4.2"
        );
        assert!(set.steps[0].rollback[0].render().unwrap().ends_with("billing=registry.example.com/billing:v1.5.0"));
        let up = plan(DeployFix::HelmUpgrade);
        assert_eq!(
            up.steps[0].apply[0].render().unwrap(),
            r#"helm --namespace default upgrade billing charts/billing --reuse-values --set-json 'image.tag="v1.4.2"' --wait"#
        );
        let rb = plan(DeployFix::HelmRollback);
        assert!(matches!(rb.steps[0].action, Action::HelmRollback { .. }));
        assert_eq!(rb.steps[0].apply[0].render().unwrap(), "helm --namespace default rollback billing --wait");
    }

    #[test]
    fn scripts_by_mode() {
        let cfg = PlanConfig::default().with_context(Some("prod-eu".into()));
        let c = change("d:1", ChangeKind::Deploy, "v1", "v2");
        let p =
            plan_for("i", &hypothesis(HypothesisKind::Change, "billing", Some("d:1")), &[c], &topo(), &cfg).unwrap();
        let dry = p.script(ScriptMode::DryRun).unwrap();
        assert!(dry.contains(
            "kubectl --context prod-eu --namespace default rollout undo deployment/billing --dry-run=server\n"
        ));
        assert!(!dry.contains("undo deployment/billing\n"));
        let apply = p.script(ScriptMode::Apply).unwrap();
        let dry_at = apply.find("--dry-run=server").unwrap();
        let apply_at = apply.find("undo deployment/billing\n").unwrap();
        assert!(dry_at < apply_at);
        assert!(apply.contains("rollout status deployment/billing --timeout=300s"));
    }
}
