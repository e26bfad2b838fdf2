# Workload hygiene (input: one Kubernetes manifest), with an exception for one legacy job.
package main

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

containers contains c if {
	input.kind in workload_kinds
	some c in input.spec.template.spec.containers
}

deny_latest_tag contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("%s/%s: container %s uses a :latest image", [input.kind, input.metadata.name, c.name])
}

deny_memory_limit contains msg if {
	some c in containers
	not c.resources.limits.memory
	msg := sprintf("%s/%s: container %s has no memory limit", [input.kind, input.metadata.name, c.name])
}

deny_min_replicas contains msg if {
	input.kind == "Deployment"
	input.metadata.namespace == "shop"
	input.spec.replicas < 2
	msg := sprintf("Deployment/%s: production services run at least 2 replicas", [input.metadata.name])
}

warn_readiness contains msg if {
	some c in containers
	not c.readinessProbe
	msg := sprintf("%s/%s: container %s has no readiness probe", [input.kind, input.metadata.name, c.name])
}

# The nightly legacy batch job may use :latest until it is rebuilt.
exception contains rules if {
	input.metadata.name == "legacy-batch"
	rules := ["latest_tag"]
}
