#!/usr/bin/env bash
# Points this worker's local API proxy (lib/node-proxy.sh) at the masters named, and its kubelet at
# the proxy. Run when the masters change (heal-master replaced one at a new address) and by reconcile
# when a worker's proxy drifted. Idempotent: an unchanged configuration is left alone, a changed one is
# checked with nginx -t before it replaces the live one and applied by a reload that keeps watches.
#
# Environment: KUBEHA_MASTER_ADDRESSES (comma list).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/node-proxy.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/node-proxy.sh"

main() {
  require_env KUBEHA_MASTER_ADDRESSES
  local before kubelet_changed
  before="$(node_proxy_upstreams)"
  configure_node_proxy "${KUBEHA_MASTER_ADDRESSES}"
  kubelet_changed="$(point_kubelet_at_node_proxy)"
  if [[ "${NODE_PROXY_CHANGED}" == true || -n "${kubelet_changed}" ]]; then
    log "API proxy forwards to ${KUBEHA_MASTER_ADDRESSES}${before:+ (was ${before})}"
    result '{"changed":true}'
  else
    log "API proxy already forwards to ${KUBEHA_MASTER_ADDRESSES}, nothing to do"
    result '{"changed":false}'
  fi
}

main "$@"
