#!/usr/bin/env bash
# Initializes the first control-plane node with kubeadm, using the token and certificate key kubeha
# minted (read from Secrets Manager here, written only to a root-only temporary config file), uploads
# the control-plane certificates, stores admin.conf in Secrets Manager and reports the CA cert hash.
# If /etc/kubernetes/admin.conf exists the node is already initialized: it only reports the hash.
#
# Environment: KUBEHA_CLUSTER_NAME, KUBEHA_KUBERNETES_VERSION, KUBEHA_CONTROL_PLANE_ENDPOINT (host:port),
# KUBEHA_CERT_SANS (comma list), KUBEHA_POD_CIDR, KUBEHA_SERVICE_CIDR, KUBEHA_JOIN_SECRET_ARN,
# KUBEHA_JOIN_SECRET_VERSION_ID, KUBEHA_KUBECONFIG_SECRET_ID, KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# ca_cert_hash: the discovery hash joins pin (sha256 of the CA's public key, DER encoded).
ca_cert_hash() {
  local ca="${KUBEHA_ROOT}/etc/kubernetes/pki/ca.crt"
  [[ -f "${ca}" ]] || fail "${ca} is missing"
  local digest
  digest="$(openssl x509 -pubkey -noout -in "${ca}" | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex | sed 's/^.*= *//')"
  printf 'sha256:%s\n' "${digest}"
}

# write_init_config FILE: InitConfiguration + ClusterConfiguration + KubeletConfiguration.
write_init_config() {
  local file="$1" san
  local -a sans
  IFS=',' read -r -a sans <<<"${KUBEHA_CERT_SANS}"
  {
    cat <<EOF
apiVersion: ${KUBEADM_API_VERSION}
kind: InitConfiguration
bootstrapTokens:
  - token: "${JOIN_TOKEN}"
    ttl: "1h0m0s"
    usages: ["signing", "authentication"]
    groups: ["system:bootstrappers:kubeadm:default-node-token"]
    description: "kubeha bootstrap token"
certificateKey: "${JOIN_CERTIFICATE_KEY}"
nodeRegistration:
  criSocket: "${CRI_SOCKET}"
---
apiVersion: ${KUBEADM_API_VERSION}
kind: ClusterConfiguration
clusterName: "${KUBEHA_CLUSTER_NAME}"
kubernetesVersion: "v${KUBEHA_KUBERNETES_VERSION}"
controlPlaneEndpoint: "${KUBEHA_CONTROL_PLANE_ENDPOINT}"
networking:
  podSubnet: "${KUBEHA_POD_CIDR}"
  serviceSubnet: "${KUBEHA_SERVICE_CIDR}"
apiServer:
  certSANs:
EOF
    for san in "${sans[@]}"; do
      [[ -n "${san}" ]] && printf '    - "%s"\n' "${san}"
    done
    cat <<EOF
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
EOF
  } >"${file}"
}

# store_admin_kubeconfig: once per cluster, so re-runs do not pile up secret versions.
store_admin_kubeconfig() {
  local marker="${KUBEHA_STATE_DIR}/admin-kubeconfig-stored"
  [[ -f "${marker}" ]] && return 0
  aws secretsmanager put-secret-value --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_KUBECONFIG_SECRET_ID}" \
    --secret-string "file://${ADMIN_KUBECONFIG}" >/dev/null || fail "could not store admin.conf in ${KUBEHA_KUBECONFIG_SECRET_ID}"
  mkdir -p "${KUBEHA_STATE_DIR}"
  touch "${marker}"
}

main() {
  require_env KUBEHA_CLUSTER_NAME KUBEHA_KUBERNETES_VERSION KUBEHA_CONTROL_PLANE_ENDPOINT KUBEHA_CERT_SANS \
    KUBEHA_POD_CIDR KUBEHA_SERVICE_CIDR KUBEHA_KUBECONFIG_SECRET_ID KUBEHA_REGION
  if [[ -f "${ADMIN_KUBECONFIG}" ]]; then
    store_admin_kubeconfig
    log "${ADMIN_KUBECONFIG} exists; already initialized, nothing to do"
    result "{\"caCertHash\":\"$(ca_cert_hash)\",\"changed\":false}"
    return 0
  fi
  command -v kubeadm >/dev/null 2>&1 || fail "kubeadm is not installed; run the prerequisites document first"

  read_join_material
  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  write_init_config "${workdir}/kubeadm-init.yaml"

  log "running kubeadm init for ${KUBEHA_CLUSTER_NAME} (endpoint ${KUBEHA_CONTROL_PLANE_ENDPOINT})"
  run_logged kubeadm-init kubeadm init --config "${workdir}/kubeadm-init.yaml" --upload-certs \
    --skip-token-print --skip-certificate-key-print || fail "kubeadm init failed"
  store_admin_kubeconfig
  log "initialized the control plane; admin.conf stored in Secrets Manager"
  result "{\"caCertHash\":\"$(ca_cert_hash)\",\"changed\":true}"
}

main "$@"
