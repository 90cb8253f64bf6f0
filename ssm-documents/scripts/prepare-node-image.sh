#!/usr/bin/env bash
# Finishes a prepared node image on its builder, after install-prerequisites.sh has installed the pinned
# containerd, kubelet, kubeadm and kubectl: pulls the images kubeadm needs for that version into
# containerd, then removes what makes this instance this instance, so that each node made from the image
# boots as itself. What is removed follows AWS's guidance for AMIs that others launch
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/building-shared-amis.html) and amazon-eks-ami's
# cleanup (templates/shared/provisioners/cleanup.sh):
# - /etc/machine-id emptied, not deleted: systemd writes a new one at first boot (machine-id(5)); the
#   kubelet's system UUID reporting and DHCP client identifiers derive from it;
# - cloud-init's per-instance state (`cloud-init clean --logs --seed`): the next boot is a first boot, with
#   the new instance's hostname and user data;
# - SSH host keys: cloud-init generates fresh ones on that first boot;
# - the SSM agent's registration (registration file and vault key): an EC2 node registers from its own
#   instance identity. The agent's per-instance directories are named by instance id and stay: this
#   command's own result is being written there.
# CreateImage then shuts the builder down before it snapshots (NoReboot false), so the image holds this
# state and not the one of a later boot.
#
# A warm standby (functions/core/standbys.ts) runs the same preparation and keeps its identity
# (KUBEHA_CLEAN_IDENTITY=false): it is this instance, stopped until a heal starts it, and its registered agent
# is what lets the heal send its next command as soon as it boots.
#
# Environment: KUBEHA_KUBERNETES_VERSION (e.g. 1.36.4), KUBEHA_CLEAN_IDENTITY (true for an image, false for a standby).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# pull_images VERSION: the control-plane, etcd, CoreDNS, kube-proxy and pause images of that version.
pull_images() {
  kubeadm config images pull --kubernetes-version "v$1" --cri-socket unix:///run/containerd/containerd.sock >/dev/null
}

# clean_identity: what must differ between nodes made from one image.
clean_identity() {
  : >"${KUBEHA_ROOT}/etc/machine-id"
  rm -f "${KUBEHA_ROOT}/var/lib/dbus/machine-id"
  cloud-init clean --logs --seed
  rm -f "${KUBEHA_ROOT}"/etc/ssh/ssh_host_*
  rm -f "${KUBEHA_ROOT}/var/lib/amazon/ssm/registration" "${KUBEHA_ROOT}/var/lib/amazon/ssm/Vault/Store/RegistrationKey"
}

main() {
  require_env KUBEHA_KUBERNETES_VERSION KUBEHA_CLEAN_IDENTITY
  [[ "${KUBEHA_KUBERNETES_VERSION}" =~ ^1\.[0-9]+\.[0-9]+$ ]] || fail "KUBEHA_KUBERNETES_VERSION must look like 1.36.4"
  [[ "${KUBEHA_CLEAN_IDENTITY}" == true || "${KUBEHA_CLEAN_IDENTITY}" == false ]] || fail "KUBEHA_CLEAN_IDENTITY must be true or false"
  # A node that joined a cluster holds its credentials: it must never become an image.
  [[ ! -e "${KUBELET_KUBECONFIG}" && ! -e "${ADMIN_KUBECONFIG}" ]] || fail "this instance holds kubeadm credentials (/etc/kubernetes/*.conf): a node image is made from a fresh builder only"
  [[ -f "${KUBEHA_STATE_DIR}/prerequisites-node-${KUBEHA_KUBERNETES_VERSION}" ]] || fail "install-prerequisites.sh has not prepared this instance for ${KUBEHA_KUBERNETES_VERSION}"
  pull_images "${KUBEHA_KUBERNETES_VERSION}"
  if [[ "${KUBEHA_CLEAN_IDENTITY}" == true ]]; then
    clean_identity
    log "node image prepared for kubernetes ${KUBEHA_KUBERNETES_VERSION}; identity cleaned"
  else
    log "standby prepared for kubernetes ${KUBEHA_KUBERNETES_VERSION}; identity kept"
  fi
  result "{\"kubernetesVersion\":\"${KUBEHA_KUBERNETES_VERSION}\",\"changed\":true}"
}

main "$@"
