#!/usr/bin/env bash
# Checks a load balancer after a failover: nginx running with a valid configuration and accepting
# connections on the API port, keepalived running. Read-only; exits 1 with the reason otherwise.
#
# Environment: KUBEHA_LISTEN_PORT.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  require_env KUBEHA_LISTEN_PORT
  require_match KUBEHA_LISTEN_PORT '^[0-9]{1,5}$' "a port number"
  systemctl is-active --quiet nginx || fail "nginx is not running"
  nginx -t -q -c "${KUBEHA_ROOT}/etc/nginx/nginx.conf" 2>/dev/null || fail "nginx's configuration does not pass nginx -t"
  # The port goes in as an argument, never as part of the command text.
  # shellcheck disable=SC2016 # $1 is for the inner bash
  timeout 2 bash -c '</dev/tcp/127.0.0.1/"$1"' probe "${KUBEHA_LISTEN_PORT}" 2>/dev/null || fail "nothing accepts connections on port ${KUBEHA_LISTEN_PORT}"
  systemctl is-active --quiet keepalived || fail "keepalived is not running"
  log "nginx and keepalived are healthy"
  result '{"healthy":true}'
}

main "$@"
