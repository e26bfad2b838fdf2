# Guard rails for automated remediation plans.
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
