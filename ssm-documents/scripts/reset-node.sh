#!/usr/bin/env bash
# Wipes kubeadm's state from a node so it can join again: kubeadm reset, plus the CNI configuration
# kubeadm leaves behind. A node with nothing to reset is left alone.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  if [[ ! -f "${KUBELET_KUBECONFIG}" && ! -d "${KUBEHA_ROOT}/etc/kubernetes/pki" && ! -d "${KUBEHA_ROOT}/etc/kubernetes/manifests" ]]; then
    log "nothing to reset, nothing to do"
    result '{"changed":false}'
    return 0
  fi
  run_logged kubeadm-reset kubeadm reset --force || fail "kubeadm reset failed"
  rm -rf "${KUBEHA_ROOT}/etc/cni/net.d" "${KUBEHA_ROOT}/etc/kubernetes/manifests" "${KUBEHA_ROOT}/var/lib/etcd/member"
  log "node reset; it can join again"
  result '{"changed":true}'
}

main "$@"
