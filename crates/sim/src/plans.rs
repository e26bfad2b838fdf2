//! A labelled corpus of remediation plans and manifests, for measuring preflight's policy gate.
//!
//! Each case is a hypothesis to plan a fix for (a deploy, a configuration or scale change, a
//! saturated or faulty service) in some namespace, plus zero to four Kubernetes manifests
//! (workloads, services, config maps; one file may hold several documents). The generator
//! draws every property that a policy of [`plan_corpus_policies`] looks at, and labels each
//! case with the rules that must block it, from those properties alone (never by running a
//! policy): protected namespaces, scaling to zero, `:latest` images (except the excepted
//! legacy job), missing memory limits, single-replica production deployments, privileged
//! containers, images outside the registry, and production deployments without a team label.
//! Names are sometimes hostile (quotes, `$(…)`, newlines, non-ASCII): they must not change a
//! verdict. Everything comes from one seeded generator.

use std::collections::BTreeSet;

use faultlens_core::{
    ChangeEvent, ChangeKind, Confidence, ContentHash, Evidence, EvidenceList, Hypothesis, HypothesisKind, Timestamp,
    Topology,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// One labelled case.
#[derive(Debug, Clone)]
pub struct PlanCase {
    /// `case-N`.
    pub id: String,
    /// The hypothesis to plan for.
    pub hypothesis: Hypothesis,
    /// The changes it may blame.
    pub changes: Vec<ChangeEvent>,
    /// The service graph.
    pub topology: Topology,
    /// The namespace the plan acts in.
    pub namespace: String,
    /// Manifest files: a name and YAML text (possibly several documents).
    pub manifests: Vec<(String, String)>,
    /// The rules that must block the case: `data.<package>.<rule>` for Rego, `Kind/name` for
    /// Gatekeeper constraints. Empty: the case must pass.
    pub expected_blocks: BTreeSet<String>,
}

/// The policies the corpus is labelled against: file name and text (Rego modules and
/// Gatekeeper templates with their constraints).
#[must_use]
pub fn plan_corpus_policies() -> Vec<(String, String)> {
    [
        ("remediation.rego", include_str!("../assets/plan-policies/remediation.rego")),
        ("workloads.rego", include_str!("../assets/plan-policies/workloads.rego")),
        ("privileged.yaml", include_str!("../assets/plan-policies/privileged.yaml")),
        ("allowedrepos.yaml", include_str!("../assets/plan-policies/allowedrepos.yaml")),
        ("requiredlabels.yaml", include_str!("../assets/plan-policies/requiredlabels.yaml")),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_owned(), t.to_owned()))
    .collect()
}

const PROTECTED: [&str; 3] = ["kube-system", "argocd", "monitoring"];
const SERVICES: [&str; 5] = ["billing", "checkout", "search", "reviews", "payments"];
const HOSTILE: [&str; 6] = ["web\"; rm -rf /", "$(id)", "a\nb", "it's", "ünïcødé", "{{ x }}"];

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items.get(rng.random_range(0..items.len())).copied().unwrap_or_default()
}

/// A workload or other manifest, and the rules it must trip.
fn manifest(rng: &mut ChaCha8Rng, blocks: &mut BTreeSet<String>) -> Value {
    let kind = match rng.random_range(0..100) {
        0..60 => "Deployment",
        60..75 => "StatefulSet",
        75..90 => "Service",
        _ => "ConfigMap",
    };
    let name = match rng.random_range(0..100) {
        0..8 => pick(rng, &HOSTILE).to_owned(),
        8..14 => "legacy-batch".to_owned(),
        _ => format!("{}-{}", pick(rng, &SERVICES), rng.random_range(0..100)),
    };
    let namespace = pick(rng, &["shop", "shop", "dev", "kube-system"]);
    if !matches!(kind, "Deployment" | "StatefulSet") {
        let api = "v1";
        return json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace},
                      "data": {"latest": "image:latest"}});
    }
    let mut labels = serde_json::Map::new();
    labels.insert("app".into(), json!(name));
    let has_team = rng.random_bool(0.7);
    if has_team {
        labels.insert("team".into(), json!("payments"));
    }
    let replicas: u32 = rng.random_range(1..4);
    let mut containers = Vec::new();
    for i in 0..rng.random_range(1..3) {
        let repo = if rng.random_bool(0.85) {
            "registry.example.com/"
        } else {
            pick(rng, &["docker.io/library/", "registry.example.com.evil.io/", "quay.io/"])
        };
        let tag = match rng.random_range(0..100) {
            0..15 => "latest",
            15..20 => "latest-rc",
            _ => "v1.4.2",
        };
        let image = format!("{repo}{}:{tag}", pick(rng, &SERVICES));
        let memory = rng.random_bool(0.85);
        let privileged = rng.random_bool(0.08);
        let ready = rng.random_bool(0.7);
        let cname = format!("c{i}");
        let mut limits = serde_json::Map::new();
        limits.insert("cpu".into(), json!("500m"));
        if memory {
            limits.insert("memory".into(), json!("256Mi"));
        }
        let mut c = serde_json::Map::new();
        c.insert("name".into(), json!(cname));
        c.insert("image".into(), json!(image));
        c.insert("resources".into(), json!({"limits": limits}));
        if privileged {
            c.insert("securityContext".into(), json!({"privileged": true}));
        } else if rng.random_bool(0.3) {
            c.insert("securityContext".into(), json!({"privileged": false}));
        }
        if ready {
            c.insert("readinessProbe".into(), json!({"httpGet": {"path": "/ready", "port": 8080}}));
        }
        if tag == "latest" && name != "legacy-batch" {
            blocks.insert("data.main.deny_latest_tag".into());
        }
        if !memory {
            blocks.insert("data.main.deny_memory_limit".into());
        }
        if privileged && namespace != "kube-system" {
            blocks.insert("K8sNoPrivileged/no-privileged-workloads".into());
        }
        if repo != "registry.example.com/" {
            blocks.insert("K8sAllowedRepos/our-registry".into());
        }
        containers.push(Value::Object(c));
    }
    if kind == "Deployment" && namespace == "shop" {
        if replicas < 2 {
            blocks.insert("data.main.deny_min_replicas".into());
        }
        if !has_team {
            blocks.insert("K8sRequiredLabels/shop-deployments-have-a-team".into());
        }
    }
    let api = "apps/v1";
    json!({"apiVersion": api, "kind": kind,
           "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}}})
}

/// A rank-1 hypothesis of `kind` blaming `service` (and the change `change`, if any), with one
/// piece of evidence: the service's error ratio.
#[must_use]
pub fn hypothesis(kind: HypothesisKind, service: &str, change: Option<&str>) -> Hypothesis {
    Hypothesis {
        rank: 1,
        kind,
        service: Some(service.to_owned()),
        change_id: change.map(str::to_owned),
        confidence: Confidence::saturating(0.8),
        summary: format!("{service} is at fault"),
        evidence: EvidenceList::one(Evidence::new(
            "metrics/errors.json",
            format!("http_errors_ratio{{service=\"{service}\"}}"),
            ContentHash::of(service.as_bytes()),
            "error ratio rose",
        )),
        counter_evidence: Vec::new(),
        ruled_out: Vec::new(),
        next_checks: Vec::new(),
        citations: Vec::new(),
    }
}

/// `n` labelled cases drawn from `seed`.
#[must_use]
pub fn plan_corpus(seed: u64, n: usize) -> Vec<PlanCase> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let topology = Topology::from_edges([
        ("frontend", "checkout"),
        ("checkout", "billing"),
        ("checkout", "payments"),
        ("frontend", "search"),
        ("frontend", "reviews"),
    ]);
    (0..n)
        .map(|i| {
            let mut blocks = BTreeSet::new();
            let service = pick(&mut rng, &SERVICES);
            let namespace = if rng.random_bool(0.15) {
                pick(&mut rng, &PROTECTED)
            } else {
                pick(&mut rng, &["shop", "dev", "payments"])
            };
            if PROTECTED.contains(&namespace) {
                blocks.insert("data.faultlens.remediation.deny_protected_namespace".to_owned());
            }
            let change_id = format!("change:{service}:{i}");
            let (kind, change) = match rng.random_range(0..5) {
                0 => (HypothesisKind::Change, Some((ChangeKind::Deploy, "v1.4.2".to_owned(), "v1.5.0".to_owned()))),
                1 => (
                    HypothesisKind::Change,
                    Some((ChangeKind::Config, "cache.ttl_s=30".to_owned(), "cache.ttl_s=0".to_owned())),
                ),
                2 => {
                    let to_zero = rng.random_bool(0.3);
                    if to_zero {
                        blocks.insert("data.faultlens.remediation.deny_scale_to_zero".to_owned());
                    }
                    let from = if to_zero { "0" } else { "3" };
                    (HypothesisKind::Change, Some((ChangeKind::Scale, from.to_owned(), "1".to_owned())))
                }
                3 => (HypothesisKind::Resource, None),
                _ => (HypothesisKind::Service, None),
            };
            let changes: Vec<ChangeEvent> = change
                .into_iter()
                .map(|(k, from, to)| ChangeEvent {
                    id: change_id.clone(),
                    at: Timestamp::from_millis(1_790_000_000_000),
                    service: service.to_owned(),
                    kind: k,
                    from: Some(from),
                    to: Some(to),
                    source: Some("argocd".to_owned()),
                    author: Some("dana".to_owned()),
                    description: None,
                })
                .collect();
            let h = hypothesis(kind, service, (!changes.is_empty()).then_some(change_id.as_str()));
            let mut manifests = Vec::new();
            let mut docs = Vec::new();
            for _ in 0..rng.random_range(0..5) {
                docs.push(manifest(&mut rng, &mut blocks));
            }
            // One file with every document, or one file each.
            let yaml = |v: &Value| serde_yaml_ng::to_string(v).unwrap_or_default();
            if rng.random_bool(0.5) && !docs.is_empty() {
                let text: Vec<String> = docs.iter().map(yaml).collect();
                manifests.push(("manifests.yaml".to_owned(), format!("---\n{}", text.join("---\n"))));
            } else {
                for (j, d) in docs.iter().enumerate() {
                    manifests.push((format!("m{j}.yaml"), yaml(d)));
                }
            }
            PlanCase {
                id: format!("case-{i}"),
                hypothesis: h,
                changes,
                topology: topology.clone(),
                namespace: namespace.to_owned(),
                manifests,
                expected_blocks: blocks,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_a_function_of_its_seed_and_has_both_labels() {
        let a = plan_corpus(7, 200);
        let b = plan_corpus(7, 200);
        assert_eq!(
            a.iter().map(|c| &c.manifests).collect::<Vec<_>>(),
            b.iter().map(|c| &c.manifests).collect::<Vec<_>>()
        );
        let blocked = a.iter().filter(|c| !c.expected_blocks.is_empty()).count();
        assert!(blocked > 40 && blocked < 180, "{blocked}");
        assert_eq!(plan_corpus_policies().len(), 5);
    }
}
