#!/usr/bin/env bash
# Joins this node to the cluster, as a control-plane node when KUBEHA_JOIN_AS=control-plane (with the
# certificate key, so kubeadm downloads the uploaded certificates) or as a worker otherwise.
# If /etc/kubernetes/kubelet.conf exists the node has joined already and nothing happens. If a
# previous attempt left a half-joined node behind, it is reset first so the join starts clean.
#
# Environment: KUBEHA_JOIN_AS (control-plane | worker), KUBEHA_CONTROL_PLANE_ENDPOINT, KUBEHA_CA_CERT_HASH,
# KUBEHA_JOIN_SECRET_ARN, KUBEHA_JOIN_SECRET_VERSION_ID, KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# write_join_config FILE: JoinConfiguration; the controlPlane block only for control-plane joins.
write_join_config() {
  local file="$1"
  cat >"${file}" <<EOF
apiVersion: ${KUBEADM_API_VERSION}
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "${KUBEHA_CONTROL_PLANE_ENDPOINT}"
    token: "${JOIN_TOKEN}"
    caCertHashes: ["${KUBEHA_CA_CERT_HASH}"]
nodeRegistration:
  criSocket: "${CRI_SOCKET}"
EOF
  if [[ "${KUBEHA_JOIN_AS}" == "control-plane" ]]; then
    cat >>"${file}" <<EOF
controlPlane:
  certificateKey: "${JOIN_CERTIFICATE_KEY}"
EOF
  fi
}

# has_leftovers: files a failed join leaves behind, which make the next kubeadm join refuse to start.
has_leftovers() {
  [[ -d "${KUBEHA_ROOT}/etc/kubernetes/manifests" && -n "$(ls -A "${KUBEHA_ROOT}/etc/kubernetes/manifests" 2>/dev/null)" ]] ||
    [[ -f "${KUBEHA_ROOT}/etc/kubernetes/bootstrap-kubelet.conf" ]] ||
    [[ -d "${KUBEHA_ROOT}/etc/kubernetes/pki" ]]
}

main() {
  require_env KUBEHA_JOIN_AS KUBEHA_CONTROL_PLANE_ENDPOINT KUBEHA_CA_CERT_HASH KUBEHA_REGION
  [[ "${KUBEHA_JOIN_AS}" == "control-plane" || "${KUBEHA_JOIN_AS}" == "worker" ]] ||
    fail "KUBEHA_JOIN_AS must be control-plane or worker"
  [[ "${KUBEHA_CA_CERT_HASH}" =~ ^sha256:[a-f0-9]{64}$ ]] || fail "KUBEHA_CA_CERT_HASH must be sha256:<64 hex digits>"
  if [[ -f "${KUBELET_KUBECONFIG}" ]]; then
    log "${KUBELET_KUBECONFIG} exists; already joined, nothing to do"
    result '{"changed":false}'
    return 0
  fi
  command -v kubeadm >/dev/null 2>&1 || fail "kubeadm is not installed; run the prerequisites document first"
  if has_leftovers; then
    log "a previous join left files behind; resetting this node first"
    run_logged kubeadm-reset kubeadm reset --force || fail "kubeadm reset failed"
  fi

  read_join_material
  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  write_join_config "${workdir}/kubeadm-join.yaml"
  log "joining ${KUBEHA_CONTROL_PLANE_ENDPOINT} as ${KUBEHA_JOIN_AS}"
  run_logged kubeadm-join kubeadm join --config "${workdir}/kubeadm-join.yaml" || fail "kubeadm join failed"
  log "joined as ${KUBEHA_JOIN_AS}"
  result '{"changed":true}'
}

main "$@"
