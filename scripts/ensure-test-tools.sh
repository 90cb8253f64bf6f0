#!/usr/bin/env bash
# Makes sure the real components the tests drive are installed: nginx with the stream module,
# keepalived, etcd, shellcheck, jq and openssl. Installs them with apt-get when run as root on a
# Debian-like machine; otherwise says exactly what to install. Runs before `npm test`.
set -o errexit -o nounset -o pipefail

PACKAGES=(nginx libnginx-mod-stream keepalived etcd-server etcd-client shellcheck jq openssl iproute2)

missing() {
  local tool
  for tool in nginx keepalived etcd etcdctl shellcheck jq openssl ip; do
    command -v "${tool}" >/dev/null 2>&1 || PATH="${PATH}:/usr/sbin:/sbin" command -v "${tool}" >/dev/null 2>&1 || return 0
  done
  [[ -f /usr/lib/nginx/modules/ngx_stream_module.so ]] || return 0
  return 1
}

if ! missing; then
  exit 0
fi
if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "kubeha: installing the test tools: ${PACKAGES[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  # Debian starts the services it installs; the tests run their own instances.
  for service in nginx etcd keepalived; do
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "${service}" >/dev/null 2>&1 || true; fi
    pkill -x "${service}" >/dev/null 2>&1 || true
  done
  exit 0
fi
echo "kubeha: the tests need: ${PACKAGES[*]}" >&2
echo "kubeha: install them with: sudo apt-get install ${PACKAGES[*]}" >&2
exit 1
