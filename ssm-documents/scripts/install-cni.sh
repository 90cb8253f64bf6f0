#!/usr/bin/env bash
# Installs Calico from its release manifest with the IPv4 pool set to the cluster's pod CIDR, then
# waits for calico-node to roll out. If calico-node already runs the wanted version, it does nothing.
#
# Environment: KUBEHA_CNI_VERSION (e.g. v3.31.3), KUBEHA_POD_CIDR.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# set_pool_cidr MANIFEST CIDR: uncomments CALICO_IPV4POOL_CIDR in the calico-node env and sets it.
set_pool_cidr() {
  local manifest="$1" cidr="$2"
  sed -i -E \
    -e 's@^([[:space:]]*)# - name: CALICO_IPV4POOL_CIDR@\1- name: CALICO_IPV4POOL_CIDR@' \
    -e 's@^([[:space:]]*)#   value: "[0-9./]+"@\1  value: "'"${cidr}"'"@' \
    "${manifest}"
  grep -q "value: \"${cidr}\"" "${manifest}" || fail "could not set CALICO_IPV4POOL_CIDR in the Calico manifest"
}

main() {
  require_env KUBEHA_CNI_VERSION KUBEHA_POD_CIDR
  export KUBECONFIG="${ADMIN_KUBECONFIG}"
  local image
  image="$(kubectl -n kube-system get daemonset calico-node -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null || true)"
  if [[ "${image}" == *":${KUBEHA_CNI_VERSION}" ]]; then
    log "calico ${KUBEHA_CNI_VERSION} is already installed, nothing to do"
    result '{"changed":false}'
    return 0
  fi

  local workdir
  workdir="$(private_workdir)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${workdir}'" EXIT
  curl -fsSL -o "${workdir}/calico.yaml" \
    "https://raw.githubusercontent.com/projectcalico/calico/${KUBEHA_CNI_VERSION}/manifests/calico.yaml" ||
    fail "could not download the Calico ${KUBEHA_CNI_VERSION} manifest"
  set_pool_cidr "${workdir}/calico.yaml" "${KUBEHA_POD_CIDR}"
  run_logged calico-apply kubectl apply -f "${workdir}/calico.yaml" || fail "kubectl apply of the Calico manifest failed"
  run_logged calico-rollout kubectl -n kube-system rollout status daemonset/calico-node --timeout=10m ||
    fail "calico-node did not become ready"
  log "calico ${KUBEHA_CNI_VERSION} applied with pool ${KUBEHA_POD_CIDR}"
  result '{"changed":true}'
}

main "$@"
