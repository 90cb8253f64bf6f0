#!/usr/bin/env bash
# Wipes kubeadm's state from a node so it can join again: kubeadm reset, plus what kubeadm reset says
# it leaves behind (CNI configuration, iptables/IPVS rules, root's kubeconfig). A node with nothing
# kubeadm wrote is left alone (the kubelet package's own manifests/.kubelet-keep does not count).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  if [[ -z "$(kubeadm_state_on_node)" ]]; then
    log "nothing to reset, nothing to do"
    result '{"changed":false}'
    return 0
  fi
  reset_kubeadm_state
  log "node reset; it can join again"
  result '{"changed":true}'
}

main "$@"
