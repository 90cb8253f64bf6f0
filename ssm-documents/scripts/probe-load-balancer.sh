#!/usr/bin/env bash
# Asks a live API server through this load balancer's nginx, as a client through the Elastic IP would:
# GET /livez on 127.0.0.1:<listen port> over TLS within 5 s. A dead nginx refuses, a hung one accepts the
# connection from its listen backlog but never completes the handshake: both fail, which a bare
# connect (the old check) did not notice. Read-only; it always exits 0 and reports what it saw, so that
# reconcile can compare the Elastic IP's holder with the standby (when no API server answers through
# either, the masters are the problem and moving the address would not help).
#
# Environment: KUBEHA_LISTEN_PORT.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# report HEALTHY REASON: the result line (REASON is one of the fixed sentences below).
report() {
  if [[ "$1" == true ]]; then log "an API server answered /livez through nginx"; else log "unhealthy: $2"; fi
  result "{\"healthy\":$1,\"reason\":\"$2\"}"
}

main() {
  require_env KUBEHA_LISTEN_PORT
  require_match KUBEHA_LISTEN_PORT '^[0-9]{1,5}$' "a port number"
  if ! systemctl is-active --quiet nginx; then
    report false "nginx is not running"
    return 0
  fi
  local answer
  # /livez is readable anonymously on kubeadm clusters (the system:public-info-viewer role).
  answer="$(curl -sk --max-time 5 "https://127.0.0.1:${KUBEHA_LISTEN_PORT}/livez" 2>/dev/null || true)"
  if [[ "${answer}" == ok ]]; then
    report true ""
  else
    report false "no API server answered /livez through nginx within 5 s"
  fi
}

main "$@"
