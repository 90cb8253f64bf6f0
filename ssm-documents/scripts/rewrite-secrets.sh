#!/usr/bin/env bash
# Runs on one master once every API server encrypts with the new key: rewrites every Secret so etcd
# holds it encrypted with that key, as Kubernetes documents (kubectl get secrets --all-namespaces -o json
# | kubectl replace -f -). Replacing an unchanged object is harmless, so a re-run is too. A Secret that
# changes between the get and the replace fails with a conflict: its writer has just stored it with the
# new key, so that conflict is the outcome wanted, and the step checks the replace succeeded otherwise.
# The Secrets pass through a pipe, never a file, a log or the output.
#
# Environment: none.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  [[ -f "${ADMIN_KUBECONFIG}" ]] || fail "this node is not an initialized control-plane node (${ADMIN_KUBECONFIG} is missing)"
  api_ready "${ADMIN_KUBECONFIG}" || fail "the API does not answer through ${ADMIN_KUBECONFIG}"
  local errors status=0 count
  count="$(kubectl --kubeconfig "${ADMIN_KUBECONFIG}" get secrets --all-namespaces -o name 2>/dev/null | grep -c . || true)"
  errors="$(kubectl --kubeconfig "${ADMIN_KUBECONFIG}" get secrets --all-namespaces -o json |
    kubectl --kubeconfig "${ADMIN_KUBECONFIG}" replace -f - 2>&1 >/dev/null)" || status=$?
  if ((status != 0)); then
    # Only conflicts (someone wrote the Secret meanwhile, with the new key) are acceptable.
    if grep -v -E 'the object has been modified|Operation cannot be fulfilled' <<<"${errors}" | grep -q .; then
      printf 'kubeha: kubectl replace failed:\n' >&2
      grep -v -E 'the object has been modified|Operation cannot be fulfilled' <<<"${errors}" | head -n 25 | cut -c1-300 >&2
      fail "not every Secret was rewritten; run the rotation again to retry"
    fi
  fi
  log "rewrote ${count} Secrets with the current encryption key"
  result "{\"changed\":true,\"secrets\":${count:-0}}"
}

main "$@"
