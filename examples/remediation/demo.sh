#!/bin/sh
# The remediation half of the demo, offline: plan a fix for the demo incident's top
# hypothesis, gate it in preflight, approve it (two signed approvals bound to the plan hash),
# run it in dry-run mode (against a kubectl stand-in: there is no cluster here) and verify the
# audit log. Usage: demo.sh FAULTLENS_BINARY
set -eu
fl=$1
here=$(cd "$(dirname "$0")" && pwd)
bundle="$here/../bundles/bad-deploy"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== plan: a fix for the top hypothesis"
"$fl" plan "$bundle" --namespace shop --out-dir "$work"
echo
# The budget file holds what `faultlens slo budget --format json` reports for the service.
echo "== preflight: policies from the bundle, the server dry run, the error budget, change windows"
"$fl" preflight "$work/plan-1.json" --policy "$bundle/policies" --dry-run "$here/dry-run.txt" \
  --budget "$here/budget.json" \
  --freeze "$here/freeze.json" --at 2026-11-16T10:00:00Z
echo
echo "== approve: two approvers, one of them an SRE, each signing the plan hash"
alice=$("$fl" audit keygen --out "$work/alice.key")
bob=$("$fl" audit keygen --out "$work/bob.key")
runner=$("$fl" audit keygen --out "$work/runner.key")
cat > "$work/approval-policy.json" <<JSON
{"approvers": [{"name": "alice", "key": "$alice", "roles": ["sre"]},
               {"name": "bob", "key": "$bob", "roles": ["service-owner"]}],
 "required": 2, "required_roles": ["sre"]}
JSON
"$fl" approve "$work/plan-1.json" --key-file "$work/alice.key" --approver alice -o "$work/approvals.jsonl"
"$fl" approve "$work/plan-1.json" --key-file "$work/bob.key" --approver bob -o "$work/approvals.jsonl"
"$fl" approvals "$work/plan-1.json" --policy "$work/approval-policy.json" --approvals "$work/approvals.jsonl"
echo
echo "== run: dry run only (the default), kubectl is the demo's stand-in"
PATH="$here/bin:$PATH" "$fl" run "$work/plan-1.json" --approvals "$work/approvals.jsonl" \
  --approval-policy "$work/approval-policy.json" --audit "$work/audit.jsonl" --key-file "$work/runner.key" \
  --allow-namespace shop
echo
echo "== audit verify"
"$fl" audit verify "$work/audit.jsonl" --key "$runner"
