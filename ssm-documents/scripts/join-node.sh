#!/usr/bin/env bash
# Joins this node to the cluster, as a control-plane node when KUBEHA_JOIN_AS=control-plane (with the
# certificate key, so kubeadm downloads the uploaded certificates) or as a worker otherwise. A worker
# reads the worker join secret, which holds a token and no certificate key, and refuses any other: its
# token's group is bound to what a worker join needs and cannot read kube-system/kubeadm-certs.
# The cluster says whether the node has joined, not kubelet.conf (with ControlPlaneKubeletLocalMode,
# on in every supported minor, it appears after etcd-join but before the control-plane label, taint
# and the wait for the control plane): a worker has joined when its Node is registered; a control-plane
# node when its Node carries the control-plane label and taint, its own apiserver answers and its etcd
# member has started and been promoted. Anything less that kubeadm left behind is a partial join: a
# control-plane node first removes its own etcd member while its etcd still runs (kubeadm reset cannot
# without a registered Node), then the node is reset (with what reset leaves) and joins again. An
# unstarted learner of a join that failed in etcd-join is removed from a healthy master by
# refresh-join-material.sh, which runs before every join.
# A worker first gets its local API proxy to every master (lib/node-proxy.sh); discovery and the TLS
# bootstrap still use the control-plane endpoint (kubeadm builds the bootstrap kubeconfig from the
# cluster-info ConfigMap, whose server is that endpoint), and once joined the kubelet is pointed at
# the proxy, as kubespray does. Only the join itself ever reaches the API through the Elastic IP.
#
# Environment: KUBEHA_JOIN_AS (control-plane | worker), KUBEHA_CONTROL_PLANE_ENDPOINT, KUBEHA_CA_CERT_HASH,
# KUBEHA_JOIN_SECRET_ARN, KUBEHA_JOIN_SECRET_VERSION_ID, KUBEHA_REGION; for workers KUBEHA_MASTER_ADDRESSES;
# for control-plane joins KUBEHA_ENCRYPTION_SECRET_ID (the API server's Secrets encryption keys, written before kubeadm runs).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/etcd.sh"
# shellcheck source=lib/encryption.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/encryption.sh"
# shellcheck source=lib/node-proxy.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/node-proxy.sh"

# write_join_config FILE: JoinConfiguration; the controlPlane block only for control-plane joins.
write_join_config() {
  local file="$1"
  cat >"${file}" <<EOF
apiVersion: ${KUBEADM_API_VERSION}
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "${KUBEHA_CONTROL_PLANE_ENDPOINT}"
    token: "${JOIN_TOKEN}"
    caCertHashes: ["${KUBEHA_CA_CERT_HASH}"]
nodeRegistration:
  criSocket: "${CRI_SOCKET}"
EOF
  if [[ "${KUBEHA_JOIN_AS}" == "control-plane" ]]; then
    cat >>"${file}" <<EOF
controlPlane:
  certificateKey: "${JOIN_CERTIFICATE_KEY}"
EOF
  fi
}

# join_shortfall: prints why this node has not (fully) joined, or nothing when it has.
join_shortfall() {
  local name node
  name="$(node_name)"
  if [[ "${KUBEHA_JOIN_AS}" == "worker" ]]; then
    kube "${KUBELET_KUBECONFIG}" get node "${name}" -o name >/dev/null || printf 'Node %s is not registered\n' "${name}"
    return 0
  fi
  if ! node="$(kube "${ADMIN_KUBECONFIG}" get node "${name}" -o json)"; then
    printf 'Node %s is not registered\n' "${name}"
    return 0
  fi
  jq -e '(.metadata.labels // {} | has("node-role.kubernetes.io/control-plane")) and
    any(.spec.taints[]?; .key == "node-role.kubernetes.io/control-plane" and .effect == "NoSchedule")' >/dev/null <<<"${node}" ||
    printf 'Node %s lacks the control-plane label or taint\n' "${name}"
  KUBEHA_API_WAIT_SECONDS=0 api_ready "${ADMIN_KUBECONFIG}" "https://$(self_ip):6443" ||
    printf 'the apiserver on this node does not answer\n'
  local member
  member="$(etcd_member_of "$(self_ip)" 2>/dev/null || true)"
  if [[ -z "${member}" ]]; then
    printf 'this node has no etcd member (or its etcd does not run)\n'
  else
    local member_name member_learner
    read -r _ member_name _ member_learner <<<"${member}"
    [[ "${member_name}" != "(unstarted)" && "${member_learner}" == "false" ]] ||
      printf 'its etcd member has not started or is still a learner\n'
  fi
}

# report_joined CHANGED: the result line, with what the cluster says of this node (its Node's address and
# Ready condition; for a control-plane node every etcd member, as cluster-status.sh reports them), so
# healing can verify a join without a second command. Not waited for: Ready follows once the network
# plugin's pod runs on the node, and healing asks a healthy master again until then.
report_joined() {
  local changed="$1" kubeconfig="${KUBELET_KUBECONFIG}" members="[]" node nodes="[]"
  if [[ "${KUBEHA_JOIN_AS}" == "control-plane" ]]; then
    kubeconfig="${ADMIN_KUBECONFIG}"
    members="$(etcd_members_json)"
  fi
  # The kubelet's own identity may read its own Node (the Node authorizer); an admin may read any.
  if node="$(kube "${kubeconfig}" get node "$(node_name)" -o json)"; then nodes="$(nodes_json <<<"${node}")"; fi
  result "$(jq -cn --argjson changed "${changed}" --argjson members "${members}" --argjson nodes "${nodes}" '{changed: $changed, members: $members, nodes: $nodes}')"
}

# leave_etcd: removes this node's own etcd member through its local etcd, when that still runs, so the
# next join can add it again. Without a registered Node, kubeadm reset skips this step.
leave_etcd() {
  local member id
  member="$(etcd_member_of "$(self_ip)" 2>/dev/null || true)"
  [[ -n "${member}" ]] || return 0
  read -r id _ <<<"${member}"
  if etcdctl_cmd member remove "${id}" >/dev/null 2>&1; then
    log "removed this node's etcd member ${id} before resetting"
  fi
}

main() {
  require_env KUBEHA_JOIN_AS KUBEHA_CONTROL_PLANE_ENDPOINT KUBEHA_CA_CERT_HASH KUBEHA_REGION
  [[ "${KUBEHA_JOIN_AS}" == "control-plane" || "${KUBEHA_JOIN_AS}" == "worker" ]] ||
    fail "KUBEHA_JOIN_AS must be control-plane or worker"
  [[ "${KUBEHA_CA_CERT_HASH}" =~ ^sha256:[a-f0-9]{64}$ ]] || fail "KUBEHA_CA_CERT_HASH must be sha256:<64 hex digits>"
  local shortfall="" leftovers kubeconfig="${KUBELET_KUBECONFIG}" proxy_changed=""
  [[ "${KUBEHA_JOIN_AS}" == "control-plane" ]] && kubeconfig="${ADMIN_KUBECONFIG}"
  if [[ "${KUBEHA_JOIN_AS}" == "worker" ]]; then
    require_env KUBEHA_MASTER_ADDRESSES
    configure_node_proxy "${KUBEHA_MASTER_ADDRESSES}"
    [[ "${NODE_PROXY_CHANGED}" == true ]] && proxy_changed=true
    proxy_changed+="$(point_kubelet_at_node_proxy)"
  fi
  if [[ -f "${kubeconfig}" ]]; then
    # A joined node whose API is briefly unreachable must not be reset: fail, and let the next run decide.
    api_ready "${kubeconfig}" || fail "the API does not answer through ${kubeconfig}; cannot tell whether this node has joined, so nothing was reset"
    shortfall="$(join_shortfall)"
    if [[ -z "${shortfall}" ]]; then
      log "the cluster has this node as a ${KUBEHA_JOIN_AS}; already joined, nothing to do"
      report_joined "$([[ -n "${proxy_changed}" ]] && echo true || echo false)"
      return 0
    fi
  fi
  command -v kubeadm >/dev/null 2>&1 || fail "kubeadm is not installed; run the prerequisites document first"
  leftovers="$(kubeadm_state_on_node)"
  if [[ -n "${leftovers}" ]]; then
    log "an earlier join did not finish (${shortfall:+${shortfall//$'\n'/, }; }left: ${leftovers//$'\n'/, }); resetting this node first"
    [[ "${KUBEHA_JOIN_AS}" == "control-plane" ]] && leave_etcd
    reset_kubeadm_state
  fi

  # The stored ClusterConfiguration makes this master's API server read the file: it must exist first.
  [[ "${KUBEHA_JOIN_AS}" == "control-plane" ]] && write_encryption_config ""
  read_join_material "${KUBEHA_JOIN_AS}"
  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  write_join_config "${workdir}/kubeadm-join.yaml"
  log "joining ${KUBEHA_CONTROL_PLANE_ENDPOINT} as ${KUBEHA_JOIN_AS}"
  run_kubeadm kubeadm-join join --config "${workdir}/kubeadm-join.yaml" || fail "kubeadm join failed"
  # The kubelet registers its Node a few seconds after kubelet.conf appears: give the cluster time to agree.
  local waited=0 limit="${KUBEHA_API_WAIT_SECONDS:-90}"
  shortfall="$(join_shortfall)"
  while [[ -n "${shortfall}" ]]; do
    ((waited < limit)) || fail "kubeadm join returned, but ${shortfall//$'\n'/, }"
    sleep 5
    waited=$((waited + 5))
    shortfall="$(join_shortfall)"
  done
  if [[ "${KUBEHA_JOIN_AS}" == "worker" ]]; then
    point_kubelet_at_node_proxy >/dev/null
    log "the kubelet reaches the API through this node's proxy (${NODE_PROXY_SERVER})"
  fi
  log "joined as ${KUBEHA_JOIN_AS}"
  report_joined true
}

main "$@"
