#!/usr/bin/env bash
# Runs on a healthy control-plane node: registers the freshly minted bootstrap token with a short TTL
# and re-uploads the control-plane certificates encrypted with the fresh certificate key. Both come
# from Secrets Manager into a root-only config file; neither is passed as an argument or printed.
# Re-running with the same secret version replaces the token and the upload: the result is the same.
#
# Environment: KUBEHA_JOIN_SECRET_ARN, KUBEHA_JOIN_SECRET_VERSION_ID, KUBEHA_TOKEN_TTL (e.g. 30m), KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  require_env KUBEHA_TOKEN_TTL KUBEHA_REGION
  [[ "${KUBEHA_TOKEN_TTL}" =~ ^[0-9]+m$ ]] || fail "KUBEHA_TOKEN_TTL must look like 30m"
  [[ -f "${ADMIN_KUBECONFIG}" ]] || fail "this node is not an initialized control-plane node (${ADMIN_KUBECONFIG} is missing)"
  read_join_material

  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  cat >"${workdir}/refresh.yaml" <<EOF
apiVersion: ${KUBEADM_API_VERSION}
kind: InitConfiguration
bootstrapTokens:
  - token: "${JOIN_TOKEN}"
    ttl: "${KUBEHA_TOKEN_TTL}"
    usages: ["signing", "authentication"]
    groups: ["system:bootstrappers:kubeadm:default-node-token"]
    description: "kubeha join token"
certificateKey: "${JOIN_CERTIFICATE_KEY}"
nodeRegistration:
  criSocket: "${CRI_SOCKET}"
EOF
  # The token id (before the dot) is not secret; deleting it first makes a re-run replace, not clash.
  kubeadm token delete "${JOIN_TOKEN%%.*}" --kubeconfig "${ADMIN_KUBECONFIG}" >/dev/null 2>&1 || true
  run_logged token-create kubeadm token create --config "${workdir}/refresh.yaml" --kubeconfig "${ADMIN_KUBECONFIG}" ||
    fail "kubeadm token create failed"
  run_logged upload-certs kubeadm init phase upload-certs --upload-certs --config "${workdir}/refresh.yaml" ||
    fail "kubeadm init phase upload-certs failed"
  log "token registered for ${KUBEHA_TOKEN_TTL} and certificates uploaded"
  result '{"changed":true}'
}

main "$@"
