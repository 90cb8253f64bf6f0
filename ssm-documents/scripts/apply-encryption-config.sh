#!/usr/bin/env bash
# Runs on one master during a key rotation: writes the EncryptionConfiguration of the given encryption
# secret version and restarts this master's API server so it reads it, then waits until that API server
# answers /readyz again. Kubernetes reads the config only at start-up, so "applied" means restarted
# after the file was written: a marker holding the file's digest is written after the healthy restart,
# and a re-run with the same version restarts nothing (a run that died between writing and restarting
# finds the digest unmarked and restarts). Prints key names at most, never a key.
#
# Environment: KUBEHA_ENCRYPTION_SECRET_ID, KUBEHA_ENCRYPTION_SECRET_VERSION_ID, KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/encryption.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/encryption.sh"

APPLIED_MARKER="${KUBEHA_STATE_DIR}/encryption-config-applied"

# apiserver_container: the id of this node's running kube-apiserver container (empty when none runs).
apiserver_container() {
  crictl ps --name '^kube-apiserver$' --state running -q 2>/dev/null | head -n 1
}

# restart_apiserver: stops the kube-apiserver container; the kubelet starts a new one from the static pod,
# which reads the config anew. Waits for a new container whose API answers.
restart_apiserver() {
  local old new waited=0 limit="${KUBEHA_API_WAIT_SECONDS:-90}" server
  server="https://$(self_ip):6443"
  old="$(apiserver_container)"
  [[ -n "${old}" ]] || fail "no kube-apiserver container runs on this master"
  crictl stop "${old}" >/dev/null || fail "could not stop the kube-apiserver container ${old}"
  while true; do
    new="$(apiserver_container)"
    if [[ -n "${new}" && "${new}" != "${old}" ]] && KUBEHA_API_WAIT_SECONDS=0 api_ready "${ADMIN_KUBECONFIG}" "${server}"; then
      return 0
    fi
    ((waited < limit)) || fail "kube-apiserver did not come back healthy within ${limit} s after its restart (it may not read the new EncryptionConfiguration: see its logs with crictl logs)"
    sleep 3
    waited=$((waited + 3))
  done
}

main() {
  require_env KUBEHA_ENCRYPTION_SECRET_ID KUBEHA_ENCRYPTION_SECRET_VERSION_ID KUBEHA_REGION
  require_match KUBEHA_ENCRYPTION_SECRET_VERSION_ID '^[A-Za-z0-9-]{32,64}$' 'a Secrets Manager version id'
  [[ -f "${ADMIN_KUBECONFIG}" ]] || fail "this node is not an initialized control-plane node (${ADMIN_KUBECONFIG} is missing)"
  local manifest="${KUBEHA_ROOT}/etc/kubernetes/manifests/kube-apiserver.yaml"
  grep -q -- "--encryption-provider-config=${ENCRYPTION_CONFIG_PATH}" "${manifest}" 2>/dev/null ||
    fail "kube-apiserver here does not read ${ENCRYPTION_CONFIG_PATH} (a cluster bootstrapped before kubeha encrypted Secrets); nothing was changed"

  write_encryption_config "${KUBEHA_ENCRYPTION_SECRET_VERSION_ID}"
  local digest
  digest="$(sha256sum "${ENCRYPTION_CONFIG}" | cut -d' ' -f1)"
  if [[ "${ENCRYPTION_CONFIG_CHANGED}" == false && -f "${APPLIED_MARKER}" && "$(cat "${APPLIED_MARKER}")" == "${digest}" ]]; then
    log "kube-apiserver was restarted with this EncryptionConfiguration already; nothing to do"
    result '{"changed":false}'
    return 0
  fi
  log "restarting kube-apiserver to read the EncryptionConfiguration of version ${KUBEHA_ENCRYPTION_SECRET_VERSION_ID}"
  restart_apiserver
  mkdir -p "${KUBEHA_STATE_DIR}"
  printf '%s\n' "${digest}" >"${APPLIED_MARKER}"
  log "kube-apiserver is healthy again"
  result '{"changed":true}'
}

main "$@"
