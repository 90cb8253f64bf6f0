#!/usr/bin/env bash
# Stops the drill probe and summarizes its samples: how many, how many succeeded for the API (through
# the Elastic IP), for the application and for the API in the cluster (through this node's local
# proxy), and the longest run of consecutive failures (the longest outage) of each.
#
# Environment: KUBEHA_DRILL_ID.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# summarize FILE: the JSON report of a samples file ("epoch api app in-cluster" per line).
summarize() {
  awk '
    function close_run(kind) { if (run[kind] > longest[kind]) longest[kind] = run[kind]; run[kind] = 0 }
    {
      samples++
      if ($2 == 1) { api_ok++; close_run("api") } else { run["api"]++ }
      if ($3 == 1) { app_ok++; close_run("app") } else { run["app"]++ }
      if ($4 == 1) { in_cluster_ok++; close_run("in_cluster") } else { run["in_cluster"]++ }
    }
    END {
      close_run("api"); close_run("app"); close_run("in_cluster")
      printf "{\"samples\":%d,\"apiOk\":%d,\"appOk\":%d,\"inClusterOk\":%d,\"longestApiOutageSeconds\":%d,\"longestAppOutageSeconds\":%d,\"longestInClusterOutageSeconds\":%d}\n",
        samples, api_ok, app_ok, in_cluster_ok, longest["api"], longest["app"], longest["in_cluster"]
    }' "$1"
}

main() {
  require_env KUBEHA_DRILL_ID
  [[ "${KUBEHA_DRILL_ID}" =~ ^[A-Za-z0-9-]{1,64}$ ]] || fail "KUBEHA_DRILL_ID may hold letters, digits and hyphens only"
  local unit="kubeha-probe-${KUBEHA_DRILL_ID}" samples="${KUBEHA_STATE_DIR}/probe-${KUBEHA_DRILL_ID}.log"
  systemctl stop "${unit}" >/dev/null 2>&1 || true
  [[ -f "${samples}" ]] || fail "no samples for drill ${KUBEHA_DRILL_ID}: was the probe started on this node?"
  log "probe ${unit} stopped"
  result "$(summarize "${samples}")"
}

main "$@"
