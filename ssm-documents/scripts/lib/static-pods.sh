# shellcheck shell=bash
# This master's static pods (kube-apiserver, kube-controller-manager, kube-scheduler, etcd) against the
# certificates on disk. Each loads what it needs at start: the client certificates embedded in
# controller-manager.conf and scheduler.conf, apiserver-etcd-client and apiserver-kubelet-client, etcd's
# peer certificate. Only the API server's serving certificate is reloaded from disk while it runs
# (apiserver/pkg/server/options/serving.go: dynamiccertificates.NewDynamicServingContentFromFiles), so
# what a server presents (openssl s_client) says nothing about the rest: a container that started before
# the newest renewed file holds an old certificate until it restarts.

STATIC_PODS=(kube-apiserver kube-controller-manager kube-scheduler etcd)

# container_started_ns NAME: when this node's running NAME container started, in nanoseconds since the
# epoch; empty when none runs. Fails (closed) when crictl cannot tell. `crictl inspect` prints the CRI
# ContainerStatus (cri-tools cmd/crictl/container.go) whose status.startedAt is an RFC 3339 time with
# nanoseconds; a bare number of nanoseconds (the CRI field itself) is accepted too.
container_started_ns() {
  local ids id started
  ids="$(crictl ps --name "^$1\$" --state running -q)" || return 1
  id="${ids%%$'\n'*}"
  [[ -n "${id}" ]] || return 0
  started="$(crictl inspect "${id}" | jq -r '.status.startedAt // empty')" || return 1
  [[ -n "${started}" ]] || return 1
  if [[ "${started}" =~ ^[0-9]+$ ]]; then
    printf '%s\n' "${started}"
  else
    date -u -d "${started}" +%s%N
  fi
}

# newest_renewal_ns: the modification time (ns since the epoch) of the newest file `kubeadm certs renew
# all` rewrites that a static pod loads: /etc/kubernetes/pki/**/*.crt, controller-manager.conf and
# scheduler.conf. Fails when there is none.
newest_renewal_ns() {
  local k="${KUBEHA_ROOT:-}/etc/kubernetes" newest seconds fraction
  newest="$(find "${k}/pki" -name '*.crt' -type f -printf '%T@\n' && find "${k}" -maxdepth 1 \( -name controller-manager.conf -o -name scheduler.conf \) -type f -printf '%T@\n')" || return 1
  newest="$(sort -n <<<"${newest}" | tail -n 1)"
  [[ -n "${newest}" ]] || return 1
  seconds="${newest%.*}"
  fraction="${newest#*.}"
  [[ "${newest}" == *.* ]] || fraction=0
  fraction="${fraction}000000000"
  printf '%s\n' "$((seconds * 1000000000 + 10#${fraction:0:9}))"
}

# containers_before_renewal: the running static-pod containers that started before the newest renewed
# file (one name a line; none: nothing to restart). A container that does not run is not listed: it loads
# the files when it starts. Fails (closed) when crictl or the files cannot tell.
containers_before_renewal() {
  local renewed pod started
  renewed="$(newest_renewal_ns)" || return 1
  for pod in "${STATIC_PODS[@]}"; do
    started="$(container_started_ns "${pod}")" || return 1
    if [[ -n "${started}" ]] && ((started < renewed)); then printf '%s\n' "${pod}"; fi
  done
  return 0
}
