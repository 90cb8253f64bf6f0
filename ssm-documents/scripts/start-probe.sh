#!/usr/bin/env bash
# Starts the drill probe on this worker as a transient systemd unit: once a second it asks the API
# through the load balancers' endpoint for /readyz, the test application through its NodePort, and
# the API as this node's kubelet and kube-proxy reach it (/readyz on https://127.0.0.1:6443, the local
# proxy to every master), and appends "epoch api app in-cluster" (1 = answered, 0 = not) to a file.
# Starting it twice is a no-op.
#
# Environment: KUBEHA_DRILL_ID, KUBEHA_CONTROL_PLANE_ENDPOINT, KUBEHA_APP_PORT.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  require_env KUBEHA_DRILL_ID KUBEHA_CONTROL_PLANE_ENDPOINT KUBEHA_APP_PORT
  [[ "${KUBEHA_DRILL_ID}" =~ ^[A-Za-z0-9-]{1,64}$ ]] || fail "KUBEHA_DRILL_ID may hold letters, digits and hyphens only"
  require_match KUBEHA_CONTROL_PLANE_ENDPOINT '^[a-z0-9.-]{1,253}:[0-9]{2,5}$' "host:port"
  require_match KUBEHA_APP_PORT '^[0-9]{1,5}$' "a port number"
  local unit="kubeha-probe-${KUBEHA_DRILL_ID}" samples="${KUBEHA_STATE_DIR}/probe-${KUBEHA_DRILL_ID}.log"
  if systemctl is-active --quiet "${unit}"; then
    log "the probe ${unit} is running already, nothing to do"
    result '{"changed":false}'
    return 0
  fi
  mkdir -p "${KUBEHA_STATE_DIR}"
  : >"${samples}"
  # /readyz is readable anonymously on kubeadm clusters (system:public-info-viewer).
  # Values reach the probe as its environment; its program text is fixed.
  # shellcheck disable=SC2016 # expanded by the probe's bash, not here
  systemd-run --unit "${unit}" --collect --quiet \
    --setenv=PROBE_API="https://${KUBEHA_CONTROL_PLANE_ENDPOINT}/readyz" \
    --setenv=PROBE_APP="http://127.0.0.1:${KUBEHA_APP_PORT}/" --setenv=PROBE_IN_CLUSTER="https://127.0.0.1:6443/readyz" \
    --setenv=PROBE_SAMPLES="${samples}" \
    /usr/bin/env bash -c '
    while true; do
      api=0; app=0; in_cluster=0
      curl -fsk -m 1 -o /dev/null "${PROBE_API}" && api=1
      curl -fs -m 1 -o /dev/null "${PROBE_APP}" && app=1
      curl -fsk -m 1 -o /dev/null "${PROBE_IN_CLUSTER}" && in_cluster=1
      printf "%s %s %s %s\n" "$(date +%s)" "${api}" "${app}" "${in_cluster}" >>"${PROBE_SAMPLES}"
      sleep 1
    done' 
  log "probe ${unit} started"
  result '{"changed":true}'
}

main "$@"
