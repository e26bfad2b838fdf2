//! Runbooks, postmortems, an ADR and Rego policies shipped with simulated bundles.
//! They are generic: they never name the injected root cause.

const HIGH_ERROR_RATE: &str = "# Runbook: high error rate

Owner: platform on-call. Applies to every HTTP service behind the mesh.

## Symptoms
- Alert `HighErrorRate`: the 5xx ratio of a service is above its 1% SLO threshold for 5 minutes.
- Callers log `upstream <service> returned 503`.

## Triage
1. Find the deepest service whose own error ratio rose first; errors propagate to callers.
2. Compare the onset with the change history: a deploy or config change in the 15 minutes before
   the onset is the first suspect.
3. Split the error ratio by `version` and `pod`: errors only on the new version's pods point to the
   release, errors on every pod point to a dependency or to configuration.

## Mitigation
- If a release is suspect, roll it back: `kubectl -n shop rollout undo deployment/<service>` or
  revert the Argo CD application to the previous revision.
- If a dependency is failing, fail over or shed load; do not restart callers in a loop.

## Verification
- The error ratio returns under 0.5% within 10 minutes of the mitigation.
";

const HIGH_LATENCY: &str = "# Runbook: high latency

## Symptoms
- Alert `HighLatencyP99`: p99 latency above 500ms for 10 minutes.
- Logs show `slow request` warnings and request timeouts.

## Triage
1. Walk the call graph from the alerting service downwards and find the deepest service whose own
   latency rose.
2. Check CPU saturation and throttling of that service: a worker pool queue building up means the
   service is CPU bound.
3. Check the latest deploys and config changes of that service (timeouts, pool sizes).

## Mitigation
- Scale out the saturated service: `kubectl -n shop scale deployment/<service> --replicas=<n>`.
- Roll back a release that introduced the slowdown.

## Verification
- p99 latency is back under 300ms and the queue depth under 64.
";

const CPU: &str = "# Runbook: CPU saturation

## Symptoms
- `container_cpu_usage_cores` close to the container limit, latency rising with it.
- Logs: `worker pool saturated: queue depth N exceeds 64`.

## Triage
1. Is the traffic up? If requests per second rose at the entry points, this is load, not a bug.
2. If traffic is flat, a hot loop or an expensive code path is burning CPU: profile one pod.

## Mitigation
- Raise replicas with `kubectl scale`, or raise the CPU limit through a Helm values change.
- Restart a single runaway pod with `kubectl delete pod` only after taking a profile.
";

const MEMORY: &str = "# Runbook: memory leak and OOM kills

## Symptoms
- `container_memory_working_set_bytes` grows steadily towards the 2Gi limit.
- Logs: `GC pause`, `java.lang.OutOfMemoryError: Java heap space`, `OOMKilled`.

## Triage
1. A steady climb that starts long before the alert is a leak; a step change is a release or a
   traffic change.
2. Find the release or flag that introduced the leak; heap dumps are kept for 24 hours.

## Mitigation
- Rolling restart buys time: `kubectl -n shop rollout restart deployment/<service>`.
- Roll back the release that introduced the leak.
";

const DEPENDENCY: &str = "# Runbook: dependency outage

## Symptoms
- Many services fail at once with `connection refused` or `connection pool exhausted`.
- The shared datastore or broker shows errors or stops answering.

## Triage
1. Find the common dependency of the failing services in the topology: the service at the bottom
   of the failing subgraph is the likely root cause.
2. Check the datastore's own error ratio and latency.

## Mitigation
- Fail over the datastore to its replica; rate-limit callers to protect it while it recovers.
";

const BAD_DEPLOY: &str = "# Runbook: roll back a bad deploy

## When to roll back
- A deploy preceded the onset of errors or latency by less than 15 minutes, and the regression is
  on the new version's pods only.

## How
1. Argo CD: `argocd app rollback <app> <history-id>` to the last healthy revision.
2. kubectl: `kubectl -n shop rollout undo deployment/<service>`.
3. Helm: `helm rollback <release> <revision>`.

## After
- Freeze further deploys of the service until the postmortem names the fix.
";

const POSTMORTEM: &str = "# Postmortem: checkout errors after a connection-pool config change

Date: 2026-09-14. Severity: SEV-2. Duration: 38 minutes.

## Summary
A config change reduced `db.pool_size` from 40 to 4 on a back-end service. Under the evening peak
the pool was exhausted, requests queued and timed out, and the front end returned 503s.

## Detection
`HighErrorRate` fired on the front end 6 minutes after the change. The on-call first suspected a
deploy of an unrelated service that had landed 2 minutes earlier, which cost 20 minutes.

## Lessons
- The latest change is not always the guilty one: compare each change with the service that
  failed first, not with the alert.
- Config changes go through the same canary as deploys.
";

const ADR: &str = "# ADR 0007: progressive delivery for every service

Status: accepted.

## Context
Bad releases caused 60% of our incidents last year. Rollbacks took a median of 22 minutes.

## Decision
Every deploy goes through a canary with automated analysis; a failed canary rolls back without a
human. Config changes and feature flags follow the same path.

## Consequences
- Deploys take 10 minutes longer.
- Every service must export request, error and latency metrics split by version.
";

/// Knowledge files. `services` is used only to make the postmortem sound local.
pub(crate) fn knowledge(_services: &[String]) -> Vec<(String, String)> {
    [
        ("knowledge/runbooks/high-error-rate.md", HIGH_ERROR_RATE),
        ("knowledge/runbooks/high-latency.md", HIGH_LATENCY),
        ("knowledge/runbooks/cpu-saturation.md", CPU),
        ("knowledge/runbooks/memory-leak.md", MEMORY),
        ("knowledge/runbooks/dependency-outage.md", DEPENDENCY),
        ("knowledge/runbooks/rollback.md", BAD_DEPLOY),
        ("knowledge/postmortems/2026-09-14-pool-size.md", POSTMORTEM),
        ("knowledge/adr/0007-progressive-delivery.md", ADR),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect()
}

const POLICY_WORKLOADS: &str = r#"# Conftest-style policy for Kubernetes workloads.
package main

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

deny contains msg if {
	input.kind in workload_kinds
	some c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	msg := sprintf("%s/%s: container %s uses a :latest image", [input.kind, input.metadata.name, c.name])
}

deny contains msg if {
	input.kind in workload_kinds
	some c in input.spec.template.spec.containers
	not c.resources.limits.memory
	msg := sprintf("%s/%s: container %s has no memory limit", [input.kind, input.metadata.name, c.name])
}

deny contains msg if {
	input.kind == "Deployment"
	input.metadata.namespace == "shop"
	input.spec.replicas < 2
	msg := sprintf("Deployment/%s: production services run at least 2 replicas", [input.metadata.name])
}

warn contains msg if {
	input.kind in workload_kinds
	some c in input.spec.template.spec.containers
	not c.readinessProbe
	msg := sprintf("%s/%s: container %s has no readiness probe", [input.kind, input.metadata.name, c.name])
}
"#;

const POLICY_REMEDIATION: &str = r#"# Guard rails for automated remediation plans.
package faultlens.remediation

import rego.v1

protected_namespaces := {"kube-system", "argocd", "monitoring"}

deny contains msg if {
	some step in input.steps
	step.namespace in protected_namespaces
	msg := sprintf("step %v touches protected namespace %s", [step.index, step.namespace])
}

deny contains msg if {
	some step in input.steps
	step.action == "scale"
	step.replicas == 0
	msg := sprintf("step %v scales %s to zero", [step.index, step.target])
}

deny contains msg if {
	some step in input.steps
	step.action == "delete"
	step.kind == "Namespace"
	msg := sprintf("step %v deletes a namespace", [step.index])
}
"#;

pub(crate) fn policies() -> Vec<(String, String)> {
    vec![
        ("policies/workloads.rego".to_string(), POLICY_WORKLOADS.to_string()),
        ("policies/remediation.rego".to_string(), POLICY_REMEDIATION.to_string()),
    ]
}
