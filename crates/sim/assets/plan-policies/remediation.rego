# Guard rails for remediation plans (input: a faultlens plan).
package faultlens.remediation

import rego.v1

protected_namespaces := {"kube-system", "argocd", "monitoring"}

deny_protected_namespace contains msg if {
	some step in input.steps
	step.namespace in protected_namespaces
	msg := sprintf("step %v acts in protected namespace %s", [step.index, step.namespace])
}

deny_scale_to_zero contains msg if {
	some step in input.steps
	step.action == "scale"
	step.replicas == 0
	msg := sprintf("step %v scales %s to zero", [step.index, step.target])
}

warn_high_risk contains msg if {
	input.risk == "high"
	msg := sprintf("plan %s is high risk", [input.id])
}
