#!/usr/bin/env bash
# Prepares a node for its role. Kubernetes nodes: kernel modules, sysctls, swap off for good,
# containerd with the systemd cgroup driver, kubelet/kubeadm/kubectl from pkgs.k8s.io pinned to
# KUBEHA_KUBERNETES_VERSION and held. Load balancers: nginx with the stream module, keepalived.
# Every role gets jq and the AWS CLI. A marker file makes a second run a no-op that says so.
#
# Environment: KUBEHA_KUBERNETES_VERSION (e.g. 1.36.4), KUBEHA_ROLE (master | worker | lb).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

export DEBIAN_FRONTEND=noninteractive
APT_OPTIONS=(-y -q -o Dpkg::Options::=--force-confold)

# prepare_kernel: modules and sysctls kube-proxy and the CNI need, now and after reboots.
prepare_kernel() {
  mkdir -p "${KUBEHA_ROOT}/etc/modules-load.d" "${KUBEHA_ROOT}/etc/sysctl.d"
  printf 'overlay\nbr_netfilter\n' >"${KUBEHA_ROOT}/etc/modules-load.d/kubeha.conf"
  modprobe overlay
  modprobe br_netfilter
  cat >"${KUBEHA_ROOT}/etc/sysctl.d/99-kubeha.conf" <<'EOF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
EOF
  sysctl --system >/dev/null
}

# disable_swap: kubelet refuses to run with swap on; keep it off across reboots too.
disable_swap() {
  swapoff -a
  if [[ -f "${KUBEHA_ROOT}/etc/fstab" ]]; then
    sed -i -E 's@^([^#].*[[:space:]]swap[[:space:]].*)$@# disabled by kubeha: \1@' "${KUBEHA_ROOT}/etc/fstab"
  fi
  systemctl mask swap.target >/dev/null
}

# install_containerd: containerd with SystemdCgroup = true, whatever the config layout of its version.
install_containerd() {
  apt-get "${APT_OPTIONS[@]}" install containerd >/dev/null
  local config="${KUBEHA_ROOT}/etc/containerd/config.toml"
  mkdir -p "$(dirname "${config}")"
  if ! grep -q 'SystemdCgroup = true' "${config}" 2>/dev/null; then
    containerd config default >"${config}"
    sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' "${config}"
    grep -q 'SystemdCgroup = true' "${config}" || fail "could not enable SystemdCgroup in ${config}"
  fi
  systemctl enable containerd >/dev/null
  systemctl restart containerd
}

# install_kubernetes_packages: the pkgs.k8s.io repository of the pinned minor, then exact versions, held.
install_kubernetes_packages() {
  local version="$1" minor="${1%.*}"
  local keyring="${KUBEHA_ROOT}/etc/apt/keyrings/kubernetes-v${minor}.gpg"
  local repository="https://pkgs.k8s.io/core:/stable:/v${minor}/deb/"
  mkdir -p "$(dirname "${keyring}")" "${KUBEHA_ROOT}/etc/apt/sources.list.d"
  if [[ ! -s "${keyring}" ]]; then
    curl -fsSL "${repository}Release.key" | gpg --dearmor --yes -o "${keyring}"
  fi
  printf 'deb [signed-by=%s] %s /\n' "${keyring#"${KUBEHA_ROOT}"}" "${repository}" \
    >"${KUBEHA_ROOT}/etc/apt/sources.list.d/kubernetes.list"
  apt-get -q update >/dev/null
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  apt-get "${APT_OPTIONS[@]}" --allow-change-held-packages install \
    "kubelet=${version}-*" "kubeadm=${version}-*" "kubectl=${version}-*" >/dev/null
  apt-mark hold kubelet kubeadm kubectl >/dev/null
  systemctl enable kubelet >/dev/null
}

# ensure_aws_cli: the scripts read secrets and move the Elastic IP with it.
ensure_aws_cli() {
  if command -v aws >/dev/null 2>&1; then
    return 0
  fi
  if command -v snap >/dev/null 2>&1; then
    snap install aws-cli --classic >/dev/null
  else
    apt-get "${APT_OPTIONS[@]}" install awscli >/dev/null
  fi
  command -v aws >/dev/null 2>&1 || fail "the AWS CLI could not be installed"
}

main() {
  require_env KUBEHA_KUBERNETES_VERSION KUBEHA_ROLE
  [[ "${KUBEHA_KUBERNETES_VERSION}" =~ ^1\.[0-9]+\.[0-9]+$ ]] || fail "KUBEHA_KUBERNETES_VERSION must look like 1.36.4"
  # shellcheck disable=SC2153 # KUBEHA_ROLE comes from the document's environment, checked above
  local marker="${KUBEHA_STATE_DIR}/prerequisites-${KUBEHA_ROLE}-${KUBEHA_KUBERNETES_VERSION}"
  if [[ -f "${marker}" ]]; then
    log "prerequisites for ${KUBEHA_ROLE} ${KUBEHA_KUBERNETES_VERSION} already installed, nothing to do"
    result '{"changed":false}'
    return 0
  fi

  apt-get -q update >/dev/null
  apt-get "${APT_OPTIONS[@]}" install ca-certificates curl gpg jq >/dev/null
  case "${KUBEHA_ROLE}" in
    lb)
      apt-get "${APT_OPTIONS[@]}" install nginx libnginx-mod-stream keepalived >/dev/null
      ;;
    master | worker)
      prepare_kernel
      disable_swap
      install_containerd
      install_kubernetes_packages "${KUBEHA_KUBERNETES_VERSION}"
      ;;
    *)
      fail "KUBEHA_ROLE must be master, worker or lb, not ${KUBEHA_ROLE}"
      ;;
  esac
  ensure_aws_cli

  mkdir -p "${KUBEHA_STATE_DIR}"
  touch "${marker}"
  log "installed prerequisites for ${KUBEHA_ROLE} (kubernetes ${KUBEHA_KUBERNETES_VERSION})"
  result '{"changed":true}'
}

main "$@"
