#!/usr/bin/env bash
# Removes a dead control-plane node from the cluster, from a healthy control-plane node: its etcd
# member first (kubeadm reset cannot do this for a node that is gone), then its Node object.
# Guards quorum itself as well: it refuses if any other voting member is unhealthy. Learners do not vote:
# etcd judges a removal by its voting members only (RaftCluster.IsReadyToRemoveVotingMember), and the
# unstarted learner a failed join leaves is refresh-join-material.sh's to remove, before the next join.
# If no member has that peer address any more, it only makes sure the Node is gone.
#
# Environment: KUBEHA_MEMBER_PEER_IP (the dead master's private IP).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/etcd.sh"

# delete_node_with_ip IP: deletes the Node whose InternalIP is IP; prints its name, or nothing.
delete_node_with_ip() {
  local ip="$1" name
  name="$(KUBECONFIG="${ADMIN_KUBECONFIG}" kubectl get nodes -o json |
    jq -r --arg ip "${ip}" '[.items[] | select(any(.status.addresses[]?; .type == "InternalIP" and .address == $ip)) | .metadata.name][0] // empty')"
  if [[ -n "${name}" ]]; then
    KUBECONFIG="${ADMIN_KUBECONFIG}" kubectl delete node "${name}" --ignore-not-found --wait=false >/dev/null
  fi
  printf '%s\n' "${name}"
}

main() {
  require_env KUBEHA_MEMBER_PEER_IP
  local target_id="" target_name="" id name peer_ip client_url learner
  local -a others=()
  while read -r id name peer_ip client_url learner; do
    [[ -n "${id}" ]] || continue
    if [[ "${peer_ip}" == "${KUBEHA_MEMBER_PEER_IP}" ]]; then
      target_id="${id}"
      target_name="${name}"
    else
      [[ "${learner}" == "true" ]] && continue
      others+=("${name}=${client_url}")
    fi
  done < <(etcd_members)

  local removed=null
  if [[ -z "${target_id}" ]]; then
    log "no etcd member has peer address ${KUBEHA_MEMBER_PEER_IP}; already removed"
  else
    local other
    for other in "${others[@]}"; do
      endpoint_healthy "${other#*=}" || fail "refusing: etcd member ${other%%=*} is unhealthy too; removing ${target_name} could lose quorum"
    done
    etcdctl_cmd member remove "${target_id}" >/dev/null
    log "removed etcd member ${target_name} (${KUBEHA_MEMBER_PEER_IP})"
    removed="\"${target_name}\""
  fi

  local node
  node="$(delete_node_with_ip "${KUBEHA_MEMBER_PEER_IP}")"
  [[ -n "${node}" ]] && log "deleted node ${node}"
  result "{\"removedMember\":${removed},\"deletedNode\":$([[ -n "${node}" ]] && printf '"%s"' "${node}" || printf 'null')}"
}

main "$@"
