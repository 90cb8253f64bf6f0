#!/usr/bin/env bash
# Runs on a healthy control-plane node: registers the freshly minted bootstrap token with a short TTL
# and re-uploads the control-plane certificates encrypted with the fresh certificate key. Both come
# from Secrets Manager into a root-only config file; neither is passed as an argument or printed.
# Re-running with the same secret version replaces the token and the upload: the result is the same.
# kubeadm prints the token (always) and the key (unless told not to): their output goes nowhere but a
# masked error message, never a log file. It also removes unstarted learners, which only a failed
# control-plane join leaves and which would make the next join fail (kubeadm#2997, #3269).
#
# Environment: KUBEHA_JOIN_SECRET_ARN, KUBEHA_JOIN_SECRET_VERSION_ID, KUBEHA_TOKEN_TTL (e.g. 30m), KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/etcd.sh"

# run_quietly WHAT COMMAND...: runs a command that may print join material; its stdout is dropped and
# only on failure its stderr, masked, is shown. Nothing reaches a file.
run_quietly() {
  local what="$1" errors status=0
  shift
  errors="$("$@" 2>&1 >/dev/null)" || status=$?
  if ((status != 0)); then
    printf 'kubeha: %s failed:\n' "${what}" >&2
    mask <<<"${errors}" | tail -n 25 >&2
    return "${status}"
  fi
}

# remove_unstarted_learners: members that were announced by a join but never started.
remove_unstarted_learners() {
  local id name peer_ip client_url learner
  while read -r id name peer_ip client_url learner; do
    if [[ "${name}" == "(unstarted)" && "${learner}" == "true" ]]; then
      etcdctl_cmd member remove "${id}" >/dev/null || fail "could not remove the unstarted learner ${id} (${peer_ip})"
      log "removed unstarted etcd learner ${id} (${peer_ip}) that a failed join left behind"
    fi
  done < <(etcd_members)
}

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
  # Logs that earlier kubeha versions wrote held the token and the key.
  rm -f "${KUBEHA_LOG_DIR}/token-create.log" "${KUBEHA_LOG_DIR}/upload-certs.log"
  remove_unstarted_learners
  # The token id (before the dot) is not secret; deleting it first makes a re-run replace, not clash.
  kubeadm token delete "${JOIN_TOKEN%%.*}" --kubeconfig "${ADMIN_KUBECONFIG}" >/dev/null 2>&1 || true
  run_quietly "kubeadm token create" kubeadm token create --config "${workdir}/refresh.yaml" --kubeconfig "${ADMIN_KUBECONFIG}" ||
    fail "kubeadm token create failed"
  run_quietly "kubeadm init phase upload-certs" kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print \
    --config "${workdir}/refresh.yaml" --kubeconfig "${ADMIN_KUBECONFIG}" || fail "kubeadm init phase upload-certs failed"
  log "token registered for ${KUBEHA_TOKEN_TTL} and certificates uploaded"
  result '{"changed":true}'
}

main "$@"
