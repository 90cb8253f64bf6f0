# shellcheck shell=bash
# etcd helpers for control-plane scripts, inlined like common.sh. On a kubeadm master, etcdctl runs
# inside the etcd static pod's container through crictl, with the node's etcd client certificates,
# so it works even when kube-apiserver does not. Tests set KUBEHA_ETCDCTL to a plain etcdctl command.

# etcdctl_cmd ARGS...: etcdctl against this node's etcd, or against the endpoints ARGS name with
# --endpoints: etcdctl's --endpoints is a string slice that appends on each further use, so the
# local default is added only when the caller names none (else 127.0.0.1 would join the list).
etcdctl_cmd() {
  if [[ -n "${KUBEHA_ETCDCTL:-}" ]]; then
    local -a command
    read -r -a command <<<"${KUBEHA_ETCDCTL}"
    "${command[@]}" "$@"
    return
  fi
  local container argument
  local -a endpoints=(--endpoints=https://127.0.0.1:2379)
  for argument in "$@"; do
    [[ "${argument}" == --endpoints || "${argument}" == --endpoints=* ]] && endpoints=()
  done
  container="$(crictl ps --name '^etcd$' --state running -q | head -n 1)"
  [[ -n "${container}" ]] || fail "no running etcd container on this node"
  crictl exec "${container}" etcdctl "${endpoints[@]}" \
    --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt \
    --key=/etc/kubernetes/pki/etcd/server.key "$@"
}

# etcd_members: one line per member, "ID NAME PEER_IP CLIENT_URL IS_LEARNER" (IDs in hex, as etcdctl
# takes them). etcdctl prints a member whose etcd never started as "ID, unstarted, , PEER, , true"
# (empty name and client URLs): NAME is then "(unstarted)" and CLIENT_URL "-", so every line has
# five fields and IS_LEARNER stays the fifth.
etcd_members() {
  etcdctl_cmd member list -w simple | awk -F', ' 'NF >= 6 {
    peer = $4; sub(/,.*$/, "", peer); sub(/^https?:\/\//, "", peer); sub(/:[0-9]+$/, "", peer);
    name = ($3 == "") ? "(unstarted)" : $3;
    client = ($5 == "") ? "-" : $5; sub(/,.*$/, "", client);
    print $1, name, peer, client, $6
  }'
}

# etcd_member_of IP: "ID NAME CLIENT_URL IS_LEARNER" of the member whose peer address is IP, or nothing.
etcd_member_of() {
  local id name peer_ip client_url learner
  while read -r id name peer_ip client_url learner; do
    if [[ "${peer_ip}" == "$1" ]]; then
      printf '%s %s %s %s\n' "${id}" "${name}" "${client_url}" "${learner}"
      return 0
    fi
  done < <(etcd_members)
}

# endpoint_healthy CLIENT_URL: true when that member answers a health check within 3 seconds.
endpoint_healthy() {
  [[ "$1" == http* ]] || return 1
  etcdctl_cmd --endpoints="$1" --command-timeout=3s endpoint health >/dev/null 2>&1
}

# etcd_members_json: every member as healing reads it (id, name, peer address, learner flag, and healthy:
# started, promoted and answering its health check), a JSON array; [] when etcd does not answer.
etcd_members_json() {
  local members_json="[]" id name peer_ip client_url learner healthy
  while read -r id name peer_ip client_url learner; do
    [[ -n "${id}" ]] || continue
    healthy=false
    if [[ "${learner}" != "true" ]] && endpoint_healthy "${client_url}"; then healthy=true; fi
    members_json="$(jq -c --arg id "${id}" --arg name "${name}" --arg peer "${peer_ip}" --argjson healthy "${healthy}" \
      --argjson learner "${learner:-false}" '. + [{id: $id, name: $name, peerIp: $peer, healthy: $healthy, isLearner: $learner}]' <<<"${members_json}")"
  done < <(etcd_members)
  printf '%s
' "${members_json}"
}
