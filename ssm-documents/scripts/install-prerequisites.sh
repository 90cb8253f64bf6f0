#!/usr/bin/env bash
# Prepares a node for its role, on Ubuntu 22.04 or 24.04. Kubernetes nodes: kernel modules, sysctls,
# swap off for good, a containerd the Kubernetes minor supports (Ubuntu's 1.7.20+ up to 1.35; from 1.36
# the kubelet needs containerd 2.x, from containerd's own pinned release, checksum-verified) with the
# systemd cgroup driver and the sandbox image kubeadm names, kubelet/kubeadm/kubectl from pkgs.k8s.io
# pinned to KUBEHA_KUBERNETES_VERSION and held. Load balancers: nginx with the stream module, keepalived.
# Every role gets jq and AWS CLI v2 (its signed zip installer: 24.04 has no awscli package). apt waits
# for the dpkg lock, which unattended-upgrades holds for minutes on a fresh instance. A marker file makes
# a second run a no-op that says so; masters and workers install the same things and share one marker,
# which a prepared node image (PrepareNodeImage) carries, with the pinned versions it installed.
#
# Environment: KUBEHA_KUBERNETES_VERSION (e.g. 1.36.4), KUBEHA_ROLE (master | worker | lb).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

export DEBIAN_FRONTEND=noninteractive
APT_LOCK=(-o DPkg::Lock::Timeout=600)
APT_OPTIONS=(-y -q "${APT_LOCK[@]}" -o Dpkg::Options::=--force-confold)

# Pinned upstream releases for Kubernetes 1.36+ (containerd 2.x; runc is not in containerd's tarball).
CONTAINERD_2_VERSION="2.1.4"
RUNC_VERSION="1.3.1"
# The AWS CLI team's signing key (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html).
AWS_CLI_KEY_FINGERPRINT="FB5DB77FD5C118B80511ADA8A6310ACC4672475C"

# ubuntu_release: 22.04 or 24.04, the releases kubeha supports.
ubuntu_release() {
  local id="" version=""
  # shellcheck disable=SC1091 # the instance's own file
  [[ -r "${KUBEHA_ROOT}/etc/os-release" ]] && { id="$(. "${KUBEHA_ROOT}/etc/os-release" && printf '%s' "${ID:-}")"; version="$(. "${KUBEHA_ROOT}/etc/os-release" && printf '%s' "${VERSION_ID:-}")"; }
  [[ "${id}" == ubuntu && ("${version}" == 22.04 || "${version}" == 24.04) ]] || fail "kubeha supports Ubuntu 22.04 and 24.04, not ${id:-an unknown system} ${version}"
  printf '%s\n' "${version}"
}

# machine_arch: amd64 or arm64, as release file names spell it.
machine_arch() {
  case "$(uname -m)" in
    x86_64) printf 'amd64\n' ;;
    aarch64) printf 'arm64\n' ;;
    *) fail "unsupported machine architecture $(uname -m)" ;;
  esac
}

# version_at_least HAVE WANT: true when dotted version HAVE >= WANT.
version_at_least() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]
}

# download_verified URL CHECKSUM_URL FILE: the file, checked against the release's published sha256.
download_verified() {
  local url="$1" checksum_url="$2" file="$3" expected actual
  curl -fsSL --retry 3 -o "${file}" "${url}" || fail "could not download ${url}"
  expected="$(curl -fsSL --retry 3 "${checksum_url}" | awk '{ print $1; exit }')" || fail "could not download ${checksum_url}"
  actual="$(sha256sum "${file}" | awk '{ print $1 }')"
  [[ "${expected}" =~ ^[0-9a-f]{64}$ && "${actual}" == "${expected}" ]] || fail "checksum mismatch for ${url}: expected ${expected:-nothing}, got ${actual}"
}

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

# install_containerd MINOR: a containerd that minor supports, with SystemdCgroup = true whatever the
# config layout of its version. Up to 1.35 Ubuntu's containerd 1.7 (1.7.20+); from 1.36 the kubelet
# reads the cgroup driver through the CRI RuntimeConfig RPC (KEP-4033), which needs containerd 2.x.
install_containerd() {
  local minor="$1" installed
  if version_at_least "${minor}" 1.36; then
    install_containerd_release
  else
    apt-get "${APT_OPTIONS[@]}" install containerd >/dev/null
  fi
  installed="$(containerd --version | awk '{ print $3 }')"
  installed="${installed#v}"
  if version_at_least "${minor}" 1.36; then
    version_at_least "${installed}" 2.0.0 || fail "Kubernetes ${minor} needs containerd 2.x, found ${installed}"
  else
    version_at_least "${installed}" 1.7.20 || fail "Kubernetes ${minor} needs containerd 1.7.20 or later, found ${installed}"
  fi
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

# install_containerd_release: containerd and runc from their pinned upstream releases, each checked
# against the sha256 its release publishes, and containerd's own systemd unit of that tag.
install_containerd_release() {
  local arch workdir
  arch="$(machine_arch)"
  workdir="$(private_workdir)"
  # Ubuntu's 1.7 packages would shadow the release in /usr/bin.
  apt-get "${APT_OPTIONS[@]}" remove containerd runc >/dev/null 2>&1 || true
  local base="https://github.com/containerd/containerd/releases/download/v${CONTAINERD_2_VERSION}"
  local tarball="containerd-${CONTAINERD_2_VERSION}-linux-${arch}.tar.gz"
  download_verified "${base}/${tarball}" "${base}/${tarball}.sha256sum" "${workdir}/${tarball}"
  mkdir -p "${KUBEHA_ROOT}/usr/local"
  tar -xzf "${workdir}/${tarball}" -C "${KUBEHA_ROOT}/usr/local"
  local runc_base="https://github.com/opencontainers/runc/releases/download/v${RUNC_VERSION}"
  curl -fsSL --retry 3 -o "${workdir}/runc.sha256sum" "${runc_base}/runc.sha256sum" || fail "could not download runc's checksums"
  curl -fsSL --retry 3 -o "${workdir}/runc.${arch}" "${runc_base}/runc.${arch}" || fail "could not download runc"
  grep -E " \*?runc\.${arch}\$" "${workdir}/runc.sha256sum" | awk '{ print $1 }' >"${workdir}/runc.expected"
  [[ "$(sha256sum "${workdir}/runc.${arch}" | awk '{ print $1 }')" == "$(cat "${workdir}/runc.expected")" ]] || fail "checksum mismatch for runc ${RUNC_VERSION}"
  install -D -m 0755 "${workdir}/runc.${arch}" "${KUBEHA_ROOT}/usr/local/sbin/runc"
  mkdir -p "${KUBEHA_ROOT}/usr/local/lib/systemd/system"
  curl -fsSL --retry 3 -o "${KUBEHA_ROOT}/usr/local/lib/systemd/system/containerd.service" \
    "https://raw.githubusercontent.com/containerd/containerd/v${CONTAINERD_2_VERSION}/containerd.service" || fail "could not download containerd.service"
  rm -rf "${workdir}"
  systemctl daemon-reload
}

# use_kubeadm_sandbox_image VERSION: the pause image this kubeadm names, instead of containerd's default
# (pause:3.8 in 1.7), which kubeadm warns about.
use_kubeadm_sandbox_image() {
  local image config="${KUBEHA_ROOT}/etc/containerd/config.toml"
  image="$(kubeadm config images list --kubernetes-version "v$1" | grep -E '/pause:' | head -n 1)"
  [[ "${image}" =~ ^[a-z0-9.-]+(/[a-z0-9._-]+)+:[0-9][0-9.]*$ ]] || fail "kubeadm names no sandbox image for v$1"
  sed -i -E "s#\"[^\"']*/pause:[0-9.]+\"#\"${image}\"#; s#'[^\"']*/pause:[0-9.]+'#'${image}'#" "${config}"
  grep -qF "${image}" "${config}" || fail "could not set the sandbox image ${image} in ${config}"
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
  apt-get -q "${APT_LOCK[@]}" update >/dev/null
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  apt-get "${APT_OPTIONS[@]}" --allow-change-held-packages install \
    "kubelet=${version}-*" "kubeadm=${version}-*" "kubectl=${version}-*" >/dev/null
  apt-mark hold kubelet kubeadm kubectl >/dev/null
  systemctl enable kubelet >/dev/null
}

# ensure_aws_cli: AWS CLI v2, which the scripts read secrets and move the Elastic IP with, from its
# zip installer once its signature checks out against the AWS CLI team's key (pinned by fingerprint).
ensure_aws_cli() {
  if aws --version 2>/dev/null | grep -q '^aws-cli/2\.'; then
    return 0
  fi
  local arch workdir
  arch="$(uname -m)"
  [[ "${arch}" == x86_64 || "${arch}" == aarch64 ]] || fail "unsupported machine architecture ${arch}"
  workdir="$(private_workdir)"
  apt-get "${APT_OPTIONS[@]}" install unzip >/dev/null
  local url="https://awscli.amazonaws.com/awscli-exe-linux-${arch}.zip"
  curl -fsSL --retry 3 -o "${workdir}/awscliv2.zip" "${url}" || fail "could not download ${url}"
  curl -fsSL --retry 3 -o "${workdir}/awscliv2.sig" "${url}.sig" || fail "could not download ${url}.sig"
  mkdir -m 0700 "${workdir}/gnupg"
  GNUPGHOME="${workdir}/gnupg" gpg --batch --quiet --keyserver hkps://keyserver.ubuntu.com --recv-keys "${AWS_CLI_KEY_FINGERPRINT}" >/dev/null 2>&1 ||
    fail "could not fetch the AWS CLI signing key ${AWS_CLI_KEY_FINGERPRINT}"
  # VALIDSIG's last field is the primary key's fingerprint: the signature must be that key's.
  GNUPGHOME="${workdir}/gnupg" gpg --batch --status-fd 1 --verify "${workdir}/awscliv2.sig" "${workdir}/awscliv2.zip" 2>/dev/null |
    grep -qE "^\[GNUPG:\] VALIDSIG .* ${AWS_CLI_KEY_FINGERPRINT}\$" || fail "the AWS CLI installer's signature does not verify; not installing it"
  unzip -q "${workdir}/awscliv2.zip" -d "${workdir}"
  "${workdir}/aws/install" --update >/dev/null
  rm -rf "${workdir}"
  aws --version 2>/dev/null | grep -q '^aws-cli/2\.' || fail "the AWS CLI could not be installed"
}

# pinned_node_present VERSION: kubeadm and kubelet of exactly that version and a containerd with the
# systemd cgroup driver, as this script leaves them: a marker alone could outlive a package changed by hand.
pinned_node_present() {
  local kubelet_version
  [[ "$(kubeadm version -o short 2>/dev/null)" == "v$1" ]] || return 1
  kubelet_version="$(kubelet --version 2>/dev/null)" || return 1
  [[ "${kubelet_version}" == "Kubernetes v$1" ]] || return 1
  containerd --version >/dev/null 2>&1 && grep -q 'SystemdCgroup = true' "${KUBEHA_ROOT}/etc/containerd/config.toml" 2>/dev/null
}

main() {
  require_env KUBEHA_KUBERNETES_VERSION KUBEHA_ROLE
  [[ "${KUBEHA_KUBERNETES_VERSION}" =~ ^1\.[0-9]+\.[0-9]+$ ]] || fail "KUBEHA_KUBERNETES_VERSION must look like 1.36.4"
  # shellcheck disable=SC2153 # KUBEHA_ROLE comes from the document's environment, checked above
  local marker="${KUBEHA_STATE_DIR}/prerequisites-${KUBEHA_ROLE}-${KUBEHA_KUBERNETES_VERSION}"
  [[ "${KUBEHA_ROLE}" == master || "${KUBEHA_ROLE}" == worker ]] && marker="${KUBEHA_STATE_DIR}/prerequisites-node-${KUBEHA_KUBERNETES_VERSION}"
  if [[ -f "${marker}" ]] && { [[ "${KUBEHA_ROLE}" == lb ]] || pinned_node_present "${KUBEHA_KUBERNETES_VERSION}"; }; then
    log "prerequisites for ${KUBEHA_ROLE} ${KUBEHA_KUBERNETES_VERSION} already installed, nothing to do"
    result '{"changed":false}'
    return 0
  fi

  ubuntu_release >/dev/null
  apt-get -q "${APT_LOCK[@]}" update >/dev/null
  apt-get "${APT_OPTIONS[@]}" install ca-certificates curl gpg jq >/dev/null
  case "${KUBEHA_ROLE}" in
    lb)
      apt-get "${APT_OPTIONS[@]}" install nginx libnginx-mod-stream keepalived >/dev/null
      ;;
    master | worker)
      prepare_kernel
      disable_swap
      install_containerd "${KUBEHA_KUBERNETES_VERSION%.*}"
      install_kubernetes_packages "${KUBEHA_KUBERNETES_VERSION}"
      use_kubeadm_sandbox_image "${KUBEHA_KUBERNETES_VERSION}"
      if [[ "${KUBEHA_ROLE}" == worker ]]; then
        # The worker's local API proxy (lib/node-proxy.sh) runs nginx under its own unit; the
        # distribution's nginx service (a web server on port 80) stays off.
        apt-get "${APT_OPTIONS[@]}" install nginx libnginx-mod-stream >/dev/null
        systemctl disable --now nginx >/dev/null 2>&1 || true
      fi
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
