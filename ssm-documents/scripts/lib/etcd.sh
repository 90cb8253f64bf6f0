# shellcheck shell=bash
# etcd helpers for control-plane scripts, inlined like common.sh. On a kubeadm master, etcdctl runs
# inside the etcd static pod's container through crictl, with the node's etcd client certificates,
# so it works even when kube-apiserver does not. Tests set KUBEHA_ETCDCTL to a plain etcdctl command.

# etcdctl_cmd ARGS...: etcdctl against this node's etcd.
etcdctl_cmd() {
  if [[ -n "${KUBEHA_ETCDCTL:-}" ]]; then
    local -a command
    read -r -a command <<<"${KUBEHA_ETCDCTL}"
    "${command[@]}" "$@"
    return
  fi
  local container
  container="$(crictl ps --name '^etcd$' --state running -q | head -n 1)"
  [[ -n "${container}" ]] || fail "no running etcd container on this node"
  crictl exec "${container}" etcdctl --endpoints=https://127.0.0.1:2379 \
    --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt \
    --key=/etc/kubernetes/pki/etcd/server.key "$@"
}

# etcd_members: one line per member, "ID NAME PEER_IP CLIENT_URL IS_LEARNER" (IDs in hex, as etcdctl takes them).
etcd_members() {
  etcdctl_cmd member list -w simple | awk -F', ' '{
    peer = $4; sub(/^https?:\/\//, "", peer); sub(/:[0-9]+$/, "", peer);
    name = ($3 == "") ? "(unstarted)" : $3;
    print $1, name, peer, $5, $6
  }'
}

# endpoint_healthy CLIENT_URL: true when that member answers a health check within 3 seconds.
endpoint_healthy() {
  etcdctl_cmd --endpoints="$1" --command-timeout=3s endpoint health >/dev/null 2>&1
}
