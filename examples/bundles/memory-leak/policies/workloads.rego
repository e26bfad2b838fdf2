# Conftest-style policy for Kubernetes workloads.
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
