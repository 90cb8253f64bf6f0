#!/usr/bin/env bash
# Asks a live API server through this load balancer's nginx, as a client through the Elastic IP would:
# GET /livez on 127.0.0.1:<listen port> over TLS within 3 s. A dead nginx refuses, a hung one accepts the
# connection from its listen backlog but never completes the handshake: both fail, which a bare
# connect (the old check) did not notice. One failed request is not enough to call it unhealthy: reconcile
# moves the Elastic IP on this answer, and a blip (an API server restarting behind nginx, a reload) must not
# cost a failover, so it asks PROBE_TRIES times a second apart and reports healthy at the first answer. Read-only; it always exits 0 and reports what it saw, so that
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

readonly PROBE_TRIES=3
readonly PROBE_SECONDS=3
readonly UNANSWERED="no API server answered /livez through nginx in 3 tries of 3 s"

main() {
  require_env KUBEHA_LISTEN_PORT
  require_match KUBEHA_LISTEN_PORT '^[0-9]{1,5}$' "a port number"
  local answer try reason
  for ((try = 1; try <= PROBE_TRIES; try++)); do
    # A crashed nginx is back within a second (its unit restarts it): not running is one more failed try.
    if ! systemctl is-active --quiet nginx; then
      reason="nginx is not running"
    else
      # /livez is readable anonymously on kubeadm clusters (the system:public-info-viewer role).
      answer="$(curl -sk --max-time "${PROBE_SECONDS}" "https://127.0.0.1:${KUBEHA_LISTEN_PORT}/livez" 2>/dev/null || true)"
      if [[ "${answer}" == ok ]]; then
        report true ""
        return 0
      fi
      reason="${UNANSWERED}"
    fi
    if ((try < PROBE_TRIES)); then sleep 1; fi
  done
  report false "${reason}"
}

main "$@"
