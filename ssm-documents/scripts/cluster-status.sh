#!/usr/bin/env bash
# Reports, from a healthy control-plane node, every etcd member with its health and learner flag,
# and every Kubernetes node with its Ready condition and address. Read-only; used by healing to
# decide (in the control plane, not here) whether a membership change keeps quorum.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/etcd.sh"

main() {
  local members_json
  members_json="$(etcd_members_json)"

  local nodes_json="[]"
  if nodes="$(KUBECONFIG="${ADMIN_KUBECONFIG}" kubectl get nodes -o json 2>/dev/null)"; then
    nodes_json="$(nodes_json <<<"${nodes}")"
  else
    log "kube-apiserver did not answer; reporting etcd only"
  fi
  log "$(jq 'length' <<<"${members_json}") etcd members, $(jq 'length' <<<"${nodes_json}") nodes"
  result "$(jq -cn --argjson members "${members_json}" --argjson nodes "${nodes_json}" '{members: $members, nodes: $nodes}')"
}

main "$@"
