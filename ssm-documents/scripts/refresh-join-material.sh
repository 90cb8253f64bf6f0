#!/usr/bin/env bash
# Runs on a healthy control-plane node: registers the freshly minted bootstrap token with a short TTL.
# For control-plane material (the secret holds a certificate key) the token joins kubeadm's default group
# and the control-plane certificates are re-uploaded, encrypted with the fresh key. For worker material
# (a token only) the token joins kubeha's worker group instead, which is bound to exactly what a worker
# join needs and not to kubeadm:kubeadm-certs, so a worker's token cannot fetch the CA keys; the bindings
# are (re)created first. Material comes from Secrets Manager into a root-only config file; it is never
# passed as an argument or printed.
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

# Each binding kubeadm makes for its default token group (system:bootstrappers:kubeadm:default-node-token)
# that a worker join needs, made again for WORKER_TOKEN_GROUP; kubeadm:kubeadm-certs is left out on purpose.
# From kubernetes/kubernetes cmd/kubeadm/app/phases/:
#   bootstraptoken/node/tlsbootstrap.go AllowBootstrapTokensToPostCSRs   kubeadm:kubelet-bootstrap -> ClusterRole system:node-bootstrapper
#   bootstraptoken/node/tlsbootstrap.go AutoApproveNodeBootstrapTokens   kubeadm:node-autoapprove-bootstrap -> ClusterRole system:certificates.k8s.io:certificatesigningrequests:nodeclient
#   bootstraptoken/node/tlsbootstrap.go AllowBoostrapTokensToGetNodes    kubeadm:get-nodes -> ClusterRole kubeadm:get-nodes
#   uploadconfig/uploadconfig.go CreateRBACRules                          RoleBinding kube-system/kubeadm:nodes-kubeadm-config -> Role kubeadm:nodes-kubeadm-config
#   kubelet/config.go CreateConfigMapRBACRules                            RoleBinding kube-system/kubeadm:kubelet-config -> Role kubeadm:kubelet-config
# Not copied: copycerts/copycerts.go createRBAC, RoleBinding kube-system/kubeadm:kubeadm-certs -> Role kubeadm:kubeadm-certs.
WORKER_CLUSTER_BINDINGS=(
  "kubeha:worker-kubelet-bootstrap system:node-bootstrapper"
  "kubeha:worker-node-autoapprove-bootstrap system:certificates.k8s.io:certificatesigningrequests:nodeclient"
  "kubeha:worker-get-nodes kubeadm:get-nodes"
)
WORKER_KUBE_SYSTEM_BINDINGS=(
  "kubeha:worker-nodes-kubeadm-config kubeadm:nodes-kubeadm-config"
  "kubeha:worker-kubelet-config kubeadm:kubelet-config"
)

# ensure_worker_bindings: creates each binding of the worker token group that is missing (the names are
# kubeha's own, so an existing one is ours and already right).
ensure_worker_bindings() {
  local binding name role
  for binding in "${WORKER_CLUSTER_BINDINGS[@]}"; do
    read -r name role <<<"${binding}"
    kube "${ADMIN_KUBECONFIG}" get clusterrolebinding "${name}" -o name >/dev/null 2>&1 ||
      kube "${ADMIN_KUBECONFIG}" create clusterrolebinding "${name}" --clusterrole="${role}" --group="${WORKER_TOKEN_GROUP}" >/dev/null ||
      fail "could not create the ClusterRoleBinding ${name}"
  done
  for binding in "${WORKER_KUBE_SYSTEM_BINDINGS[@]}"; do
    read -r name role <<<"${binding}"
    kube "${ADMIN_KUBECONFIG}" -n kube-system get rolebinding "${name}" -o name >/dev/null 2>&1 ||
      kube "${ADMIN_KUBECONFIG}" -n kube-system create rolebinding "${name}" --role="${role}" --group="${WORKER_TOKEN_GROUP}" >/dev/null ||
      fail "could not create the RoleBinding kube-system/${name}"
  done
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
  read_join_material any
  local group="${CONTROL_PLANE_TOKEN_GROUP}"
  [[ "${JOIN_KIND}" == worker ]] && group="${WORKER_TOKEN_GROUP}"

  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  {
    cat <<EOF
apiVersion: ${KUBEADM_API_VERSION}
kind: InitConfiguration
bootstrapTokens:
  - token: "${JOIN_TOKEN}"
    ttl: "${KUBEHA_TOKEN_TTL}"
    usages: ["signing", "authentication"]
    groups: ["${group}"]
    description: "kubeha ${JOIN_KIND} join token"
EOF
    if [[ "${JOIN_KIND}" == control-plane ]]; then printf 'certificateKey: "%s"\n' "${JOIN_CERTIFICATE_KEY}"; fi
    cat <<EOF
nodeRegistration:
  criSocket: "${CRI_SOCKET}"
EOF
  } >"${workdir}/refresh.yaml"
  # Logs that earlier kubeha versions wrote held the token and the key.
  rm -f "${KUBEHA_LOG_DIR}/token-create.log" "${KUBEHA_LOG_DIR}/upload-certs.log"
  remove_unstarted_learners
  if [[ "${JOIN_KIND}" == worker ]]; then ensure_worker_bindings; fi
  # The token id (before the dot) is not secret; deleting it first makes a re-run replace, not clash.
  kubeadm token delete "${JOIN_TOKEN%%.*}" --kubeconfig "${ADMIN_KUBECONFIG}" >/dev/null 2>&1 || true
  run_quietly "kubeadm token create" kubeadm token create --config "${workdir}/refresh.yaml" --kubeconfig "${ADMIN_KUBECONFIG}" ||
    fail "kubeadm token create failed"
  if [[ "${JOIN_KIND}" == worker ]]; then
    log "worker token registered for ${KUBEHA_TOKEN_TTL} in ${WORKER_TOKEN_GROUP}"
    result '{"changed":true}'
    return 0
  fi
  run_quietly "kubeadm init phase upload-certs" kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print \
    --config "${workdir}/refresh.yaml" --kubeconfig "${ADMIN_KUBECONFIG}" || fail "kubeadm init phase upload-certs failed"
  log "control-plane token registered for ${KUBEHA_TOKEN_TTL} and certificates uploaded"
  result '{"changed":true}'
}

main "$@"
