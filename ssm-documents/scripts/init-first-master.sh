#!/usr/bin/env bash
# Initializes the first control-plane node with kubeadm, using the control-plane token and certificate
# key kubeha minted (read from Secrets Manager here, written only to a root-only temporary config file), uploads
# the control-plane certificates, stores admin.conf in Secrets Manager and reports the CA cert hash.
# The cluster decides whether init is done, not the files: kubeadm writes admin.conf in its kubeconfig
# phase, long before etcd, the uploads, the bootstrap token and the add-ons. Initialized means the API
# answers and what init's last phases create exists (kube-system/kubeadm-config, kube-public/cluster-info,
# the CoreDNS Deployment, the kube-proxy DaemonSet); then it only reports the hash. Anything less that
# kubeadm left on the node is a partial init: it is reset (with what reset leaves) and init runs again.
# Initialized or just initialized, kube-proxy's kubeconfig is then pointed at https://127.0.0.1:6443 (the
# node's own API server or proxy) and its DaemonSet restarted, once (point_kube_proxy_at_local_api).
#
# Environment: KUBEHA_CLUSTER_NAME, KUBEHA_KUBERNETES_VERSION, KUBEHA_CONTROL_PLANE_ENDPOINT (host:port),
# KUBEHA_CERT_SANS (comma list), KUBEHA_POD_CIDR, KUBEHA_SERVICE_CIDR, KUBEHA_JOIN_SECRET_ARN,
# KUBEHA_JOIN_SECRET_VERSION_ID, KUBEHA_KUBECONFIG_SECRET_ID, KUBEHA_ENCRYPTION_SECRET_ID, KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/encryption.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/encryption.sh"

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
    encryption_cluster_configuration
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

# missing_init_objects: prints what a finished kubeadm init would have created and the API lacks
# (everything, when the API does not answer through admin.conf).
missing_init_objects() {
  if ! api_ready "${ADMIN_KUBECONFIG}"; then
    printf '%s\n' "an API that answers"
    return 0
  fi
  local object namespace kind name
  for object in "kube-system configmap kubeadm-config" "kube-public configmap cluster-info" \
    "kube-system deployment coredns" "kube-system daemonset kube-proxy"; do
    read -r namespace kind name <<<"${object}"
    kube "${ADMIN_KUBECONFIG}" -n "${namespace}" get "${kind}" "${name}" -o name >/dev/null || printf '%s\n' "${namespace}/${kind}/${name}"
  done
}

# only_addons_missing MISSING: true when what the API lacks is CoreDNS or kube-proxy only (init's last phase).
only_addons_missing() {
  local object
  while IFS= read -r object; do
    case "${object}" in
      "kube-system/deployment/coredns" | "kube-system/daemonset/kube-proxy") ;;
      *) return 1 ;;
    esac
  done <<<"$1"
}

# complete_addons MISSING: runs init's addon phase alone (`kubeadm init phase addon all`, the same
# EnsureDNSAddon and EnsureProxyAddon that init and upgrade apply run) on a cluster that lacks only its
# add-ons, then finishes as an init would: admin.conf stored, kube-proxy pointed at the local API.
complete_addons() {
  # kubeadm reads the whole InitConfiguration even for one phase: the same file as init's, removed on exit.
  read_join_material control-plane
  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  write_init_config "${workdir}/kubeadm-init.yaml"
  log "the cluster exists but lacks ${1//$'\n'/, }; making kubeadm's add-ons again instead of resetting a live control plane"
  run_kubeadm kubeadm-addons init phase addon all --config "${workdir}/kubeadm-init.yaml" || fail "kubeadm could not make its add-ons"
  local missing
  missing="$(missing_init_objects)"
  [[ -z "${missing}" ]] || fail "kubeadm made its add-ons, but the cluster still lacks ${missing//$'\n'/, }"
  store_admin_kubeconfig
  point_kube_proxy_at_local_api
  result "{\"caCertHash\":\"$(ca_cert_hash)\",\"changed\":true}"
}

# point_kube_proxy_at_local_api: kube-proxy's kubeconfig names https://127.0.0.1:6443 instead of the
# control-plane endpoint kubeadm's addon phase writes, so its watches reach a live API server on every node
# without waiting out a load-balancer failover or leaving through the NAT towards the Elastic IP. kubespray
# does the same after init ("Update server field in kube-proxy kubeconfig", then "Restart all kube-proxy
# pods", roles/kubernetes/kubeadm/tasks/main.yml). Only the server line of kubeconfig.conf changes, through
# a merge patch of that one key (config.conf stays as kubeadm wrote it). kubeadm's addon phase replaces the
# ConfigMap and the DaemonSet whole (apiclient.CreateOrUpdate*), and `kubeadm upgrade apply` runs it again,
# so this runs on every InitFirstMaster, initialized or not. A DaemonSet without kubectl's restartedAt
# annotation has not been restarted since kubeadm wrote it: a run that patched but failed before the
# restart restarts on the next run. Sets KUBE_PROXY_CHANGED=true when it changed something.
KUBE_PROXY_CHANGED=false
point_kube_proxy_at_local_api() {
  local kubeconfig servers server updated patch restarted
  kubeconfig="$(kube_proxy_kubeconfig "${ADMIN_KUBECONFIG}")" ||
    fail "could not read kube-system/configmap/kube-proxy: kubeadm's kube-proxy add-on writes it (was the addon/kube-proxy phase skipped or the ConfigMap deleted? 'kubeadm init phase addon kube-proxy' writes it again)"
  [[ -n "${kubeconfig}" ]] || fail "kube-system/configmap/kube-proxy has no kubeconfig.conf, the key kubeadm's kube-proxy add-on writes"
  servers="$(kubeconfig_servers <<<"${kubeconfig}")"
  [[ -n "${servers}" && "${servers}" != *$'\n'* ]] ||
    fail "kube-system/configmap/kube-proxy's kubeconfig.conf names $(grep -c . <<<"${servers}") servers, not the one kubeadm writes; not changing it"
  server="${servers}"
  if [[ "${server}" != "${LOCAL_API_SERVER}" ]]; then
    updated="$(sed -E "s#^([[:space:]]*server:[[:space:]]*).*#\\1${LOCAL_API_SERVER}#" <<<"${kubeconfig}")"
    patch="$(jq -cn --arg kubeconfig "${updated}" '{data: {"kubeconfig.conf": $kubeconfig}}')"
    kube "${ADMIN_KUBECONFIG}" -n kube-system patch configmap kube-proxy --type merge -p "${patch}" >/dev/null ||
      fail "could not point kube-proxy's kubeconfig at ${LOCAL_API_SERVER}"
    [[ "$(kube_proxy_kubeconfig "${ADMIN_KUBECONFIG}" | kubeconfig_servers)" == "${LOCAL_API_SERVER}" ]] ||
      fail "kube-proxy's kubeconfig does not name ${LOCAL_API_SERVER} after the patch"
    log "pointed kube-proxy's kubeconfig at ${LOCAL_API_SERVER} (it named ${server})"
  fi
  restarted="$(kube "${ADMIN_KUBECONFIG}" -n kube-system get daemonset kube-proxy \
    -o 'jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}')" ||
    fail "could not read kube-system/daemonset/kube-proxy"
  if [[ "${server}" == "${LOCAL_API_SERVER}" && -n "${restarted}" ]]; then
    log "kube-proxy already talks to ${LOCAL_API_SERVER}; nothing to change"
    return 0
  fi
  kube "${ADMIN_KUBECONFIG}" -n kube-system rollout restart daemonset kube-proxy >/dev/null ||
    fail "could not restart kube-system/daemonset/kube-proxy"
  log "restarted the kube-proxy DaemonSet so its pods read the new kubeconfig"
  KUBE_PROXY_CHANGED=true
}

main() {
  require_env KUBEHA_CLUSTER_NAME KUBEHA_KUBERNETES_VERSION KUBEHA_CONTROL_PLANE_ENDPOINT KUBEHA_CERT_SANS \
    KUBEHA_POD_CIDR KUBEHA_SERVICE_CIDR KUBEHA_KUBECONFIG_SECRET_ID KUBEHA_ENCRYPTION_SECRET_ID KUBEHA_REGION KUBEHA_INITIALIZED_BEFORE
  require_match KUBEHA_INITIALIZED_BEFORE '^(true|false)$' "true or false"
  local missing=""
  if [[ -f "${ADMIN_KUBECONFIG}" ]]; then
    missing="$(missing_init_objects)"
    if [[ -z "${missing}" ]]; then
      store_admin_kubeconfig
      log "the API answers and kubeadm-config, cluster-info, CoreDNS and kube-proxy exist; already initialized"
      point_kube_proxy_at_local_api
      [[ "${KUBE_PROXY_CHANGED}" == true ]] || log "already initialized, nothing to do"
      result "{\"caCertHash\":\"$(ca_cert_hash)\",\"changed\":${KUBE_PROXY_CHANGED}}"
      return 0
    fi
  fi
  command -v kubeadm >/dev/null 2>&1 || fail "kubeadm is not installed; run the prerequisites document first"
  if [[ -n "${missing}" ]] && only_addons_missing "${missing}"; then
    # kubeadm-config and cluster-info exist: init got past its bootstrap-token phase, so nodes may have
    # joined through cluster-info since. A reset here would wipe this member of a live cluster; the
    # add-ons are made again instead (both create or update, as kubeadm upgrade does).
    complete_addons "${missing}"
    return 0
  fi
  local leftovers
  leftovers="$(kubeadm_state_on_node)"
  if [[ -n "${leftovers}" && "${KUBEHA_INITIALIZED_BEFORE}" == true ]]; then
    # kubeha tagged this master initialized after an init that finished: its etcd holds the cluster. An
    # API that does not answer now is an outage to heal, not a partial init; a reset would destroy it.
    fail "kubeha recorded this cluster as initialized, but it lacks ${missing//$'\n'/, }; not resetting a control plane that holds the cluster's data: heal its masters (or restore an etcd snapshot) and run the bootstrap again"
  fi
  if [[ -n "${leftovers}" ]]; then
    log "an earlier kubeadm init did not finish (missing: ${missing//$'\n'/, }; left: ${leftovers//$'\n'/, }); resetting this node first"
    reset_kubeadm_state
  fi

  write_encryption_config ""
  read_join_material control-plane
  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  write_init_config "${workdir}/kubeadm-init.yaml"

  log "running kubeadm init for ${KUBEHA_CLUSTER_NAME} (endpoint ${KUBEHA_CONTROL_PLANE_ENDPOINT})"
  run_kubeadm kubeadm-init init --config "${workdir}/kubeadm-init.yaml" --upload-certs \
    --skip-token-print --skip-certificate-key-print || fail "kubeadm init failed"
  missing="$(missing_init_objects)"
  [[ -z "${missing}" ]] || fail "kubeadm init returned, but the cluster lacks ${missing//$'\n'/, }"
  store_admin_kubeconfig
  log "initialized the control plane; admin.conf stored in Secrets Manager"
  point_kube_proxy_at_local_api
  result "{\"caCertHash\":\"$(ca_cert_hash)\",\"changed\":true}"
}

main "$@"
