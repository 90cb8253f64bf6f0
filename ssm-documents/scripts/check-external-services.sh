#!/usr/bin/env bash
# Checks, from this node, that every external service the applications need answers on its port:
# a TCP connection to HOST:PORT within KUBEHA_CHECK_TIMEOUT_SECONDS (default 5). It proves the path
# (DNS, routes, security groups, the service listening), not credentials or the protocol: kubeha holds
# no database passwords. An endpoint that does not answer is reported, not an error: the step succeeds
# and the control plane turns each unreachable endpoint into a finding.
#
# Environment: KUBEHA_ENDPOINTS: `none`, or `NAME:KIND:HOST:PORT` entries joined with `,`
# (functions/core/node-profile.ts endpointsParameter).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

require_match KUBEHA_ENDPOINTS '^(none|[a-z][a-z0-9-]*:(mysql|redis|mongodb|glusterfs):[A-Za-z0-9.-]+:[0-9]{1,5}(,[a-z][a-z0-9-]*:(mysql|redis|mongodb|glusterfs):[A-Za-z0-9.-]+:[0-9]{1,5})*)$' \
  "none or NAME:KIND:HOST:PORT entries joined with commas"
TIMEOUT="${KUBEHA_CHECK_TIMEOUT_SECONDS:-5}"
require_match TIMEOUT '^[0-9]{1,2}$' "a number of seconds"

# probe HOST PORT: prints why HOST:PORT cannot be reached, or nothing when a connection opened.
probe() {
  local host="$1" port="$2" status=0 output
  # ahosts resolves as connect() will (getaddrinfo): an address stands for itself, a name is looked up.
  if ! getent ahosts "${host}" >/dev/null 2>&1; then
    printf 'the name %s does not resolve\n' "${host}"
    return 0
  fi
  # bash opens the connection itself (/dev/tcp), so no client needs to be installed; host and port
  # are arguments of the inner shell, never part of its program text.
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner shell, on purpose
  output="$(timeout "${TIMEOUT}" bash -c 'exec 3<>"/dev/tcp/$1/$2"' probe "${host}" "${port}" 2>&1)" || status=$?
  if ((status == 124)); then
    printf 'no answer within %s s (a security group or network ACL may drop the traffic)\n' "${TIMEOUT}"
  elif ((status != 0)); then
    case "${output}" in
      *refused*) printf 'connection refused: nothing listens on port %s\n' "${port}" ;;
      *unreachable*) printf 'network unreachable\n' ;;
      *) printf 'could not connect: %s\n' "$(tail -n 1 <<<"${output}" | sed -E 's/^.*: //')" ;;
    esac
  fi
}

main() {
  local reports='[]' entry name kind host port reason
  local -a entries=()
  [[ "${KUBEHA_ENDPOINTS}" == none ]] || IFS=',' read -r -a entries <<<"${KUBEHA_ENDPOINTS}"
  for entry in "${entries[@]}"; do
    IFS=':' read -r name kind host port <<<"${entry}"
    reason="$(probe "${host}" "${port}")"
    if [[ -z "${reason}" ]]; then log "${name} (${kind}) ${host}:${port} answers"; else log "${name} (${kind}) ${host}:${port}: ${reason}"; fi
    reports="$(jq -c --arg name "${name}" --arg kind "${kind}" --arg host "${host}" --argjson port "${port}" --arg reason "${reason}" \
      '. + [{name: $name, kind: $kind, host: $host, port: $port, reachable: ($reason == "")} + (if $reason == "" then {} else {reason: $reason} end)]' <<<"${reports}")"
  done
  result "$(jq -c '{endpoints: .}' <<<"${reports}")"
}

main "$@"
