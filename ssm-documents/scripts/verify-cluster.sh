#!/usr/bin/env bash
# Checks the cluster from a control-plane node: every node Ready, the expected number of control-plane
# and worker nodes, every etcd member healthy and as many members as control-plane nodes, kube-system
# pods running, kube-proxy's kubeconfig naming the node-local API (https://127.0.0.1:6443; kubeadm's addon
# phase, run again by `kubeadm upgrade apply`, puts the control-plane endpoint back, and InitFirstMaster
# corrects it). Prints the report as KUBEHA_RESULT whatever the outcome; exits 1 if anything is off.
#
# Environment: KUBEHA_EXPECTED_CONTROL_PLANE_NODES, KUBEHA_EXPECTED_WORKER_NODES.
# Optional: KUBEHA_READY_TIMEOUT (default 10m).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ETCD_PKI=/etc/kubernetes/pki/etcd

# etcdctl_in_pod ARGS...: etcdctl inside this node's etcd static pod, with the node's client certs.
etcdctl_in_pod() {
  kubectl -n kube-system exec "etcd-$(hostname)" -- etcdctl --endpoints=https://127.0.0.1:2379 \
    --cacert="${ETCD_PKI}/ca.crt" --cert="${ETCD_PKI}/server.crt" --key="${ETCD_PKI}/server.key" "$@"
}

main() {
  require_env KUBEHA_EXPECTED_CONTROL_PLANE_NODES KUBEHA_EXPECTED_WORKER_NODES
  # Bash arithmetic evaluates a variable's text as an expression (a[$(command)] runs the command): digits only.
  require_match KUBEHA_EXPECTED_CONTROL_PLANE_NODES '^[0-9]{1,2}$' "a number of nodes"
  require_match KUBEHA_EXPECTED_WORKER_NODES '^[0-9]{1,4}$' "a number of nodes"
  export KUBECONFIG="${ADMIN_KUBECONFIG}"
  kubectl wait --for=condition=Ready nodes --all --timeout="${KUBEHA_READY_TIMEOUT:-10m}" >/dev/null ||
    log "not every node became Ready in time"

  local nodes_json members_json health_json
  nodes_json="$(kubectl get nodes -o json)"
  members_json="$(etcdctl_in_pod member list -w json)"
  health_json="$(etcdctl_in_pod endpoint health --cluster -w json || true)"

  local total ready control_plane workers members healthy pods_not_running
  total="$(jq '.items | length' <<<"${nodes_json}")"
  ready="$(jq '[.items[] | select(any(.status.conditions[]; .type == "Ready" and .status == "True"))] | length' <<<"${nodes_json}")"
  control_plane="$(jq '[.items[] | select(.metadata.labels | has("node-role.kubernetes.io/control-plane"))] | length' <<<"${nodes_json}")"
  workers=$((total - control_plane))
  members="$(jq '.members | length' <<<"${members_json}")"
  healthy="$(jq '[.[]? | select(.health == true)] | length' <<<"${health_json:-[]}")"
  pods_not_running="$(kubectl -n kube-system get pods --no-headers \
    --field-selector=status.phase!=Running,status.phase!=Succeeded 2>/dev/null | grep -c . || true)"

  # One server line, or the report names what it found (nothing when the ConfigMap cannot be read).
  local kube_proxy_server
  kube_proxy_server="$(kube_proxy_kubeconfig "${KUBECONFIG}" | kubeconfig_servers | paste -sd, - || true)"

  local report
  report="$(jq -cn --argjson nodesReady "${ready}" --argjson nodesTotal "${total}" \
    --argjson controlPlaneNodes "${control_plane}" --argjson workerNodes "${workers}" \
    --argjson etcdMembers "${members}" --argjson etcdHealthy "${healthy}" \
    --argjson kubeSystemPodsNotRunning "${pods_not_running}" --arg kubeProxyServer "${kube_proxy_server}" '$ARGS.named')"

  local -a problems=()
  ((control_plane == KUBEHA_EXPECTED_CONTROL_PLANE_NODES)) || problems+=("expected ${KUBEHA_EXPECTED_CONTROL_PLANE_NODES} control-plane nodes, found ${control_plane}")
  ((workers == KUBEHA_EXPECTED_WORKER_NODES)) || problems+=("expected ${KUBEHA_EXPECTED_WORKER_NODES} worker nodes, found ${workers}")
  ((ready == total)) || problems+=("$((total - ready)) nodes are not Ready")
  ((members == KUBEHA_EXPECTED_CONTROL_PLANE_NODES)) || problems+=("etcd has ${members} members, expected ${KUBEHA_EXPECTED_CONTROL_PLANE_NODES}")
  ((healthy == members)) || problems+=("$((members - healthy)) etcd members are unhealthy")
  ((pods_not_running == 0)) || problems+=("${pods_not_running} kube-system pods are not running")
  [[ "${kube_proxy_server}" == "${LOCAL_API_SERVER}" ]] ||
    problems+=("kube-proxy's kubeconfig names ${kube_proxy_server:-no server (kube-system/configmap/kube-proxy unreadable)}, not ${LOCAL_API_SERVER} (InitFirstMaster points it there again)")

  result "${report}"
  if ((${#problems[@]} > 0)); then
    local problem
    for problem in "${problems[@]}"; do printf 'kubeha: %s\n' "${problem}" >&2; done
    fail "the cluster is not healthy"
  fi
  log "all ${total} nodes Ready, ${members} etcd members healthy"
}

main "$@"
