# shellcheck shell=bash
# The cluster the kubeadm/kubectl/etcdctl/crictl doubles share: what lives in etcd and in the API
# (objects, etcd members) and what runs on each node (kubelet, static pods), kept in DOUBLE_CLUSTER
# so several node sandboxes can form one cluster. Each node's files stay under its own KUBEHA_ROOT,
# exactly where kubeadm puts them, so the scripts see what they would see on an instance.
#
#   DOUBLE_CLUSTER/objects/<namespace>/<kind>/<name>   API objects (namespace "-" for cluster-scoped)
#   DOUBLE_CLUSTER/etcd/members                         "ID|NAME|PEER_IP|IS_LEARNER" per member (NAME empty = unstarted)
#   DOUBLE_CLUSTER/runtime/<ip>/{kubelet,etcd,control-plane}   what runs on that node
#   DOUBLE_CLUSTER/pki/ca.crt                           the cluster CA (discovery pins its hash)
#
# Environment: KUBEHA_ROOT (the node's /), KUBEHA_SELF_IP (the node's address; the node name is
# ip-a-b-c-d as on EC2), DOUBLE_CLUSTER, DOUBLE_CONTROL (one-shot failure instructions for this node).

: "${DOUBLE_CLUSTER:?DOUBLE_CLUSTER must point at the shared cluster directory}"
: "${KUBEHA_SELF_IP:?KUBEHA_SELF_IP must be the address of this node}"
# shellcheck disable=SC2034 # used by the doubles that source this file
ROOT="${KUBEHA_ROOT:?}"
SELF_IP="${KUBEHA_SELF_IP}"
# shellcheck disable=SC2034
SELF_NAME="ip-${SELF_IP//./-}"
if [[ ! -f "${DOUBLE_CLUSTER}/etcd/members" || ! -d "${DOUBLE_CLUSTER}/runtime/${SELF_IP}" ]]; then
  mkdir -p "${DOUBLE_CLUSTER}/objects" "${DOUBLE_CLUSTER}/etcd" "${DOUBLE_CLUSTER}/runtime/${SELF_IP}"
  touch "${DOUBLE_CLUSTER}/etcd/members"
fi

object_path() { printf '%s/objects/%s/%s/%s' "${DOUBLE_CLUSTER}" "$1" "$2" "$3"; }
object_exists() { [[ -f "$(object_path "$@")" ]]; }
object_put() {
  local path
  path="$(object_path "$1" "$2" "$3")"
  mkdir -p "$(dirname "${path}")"
  printf '%s\n' "${4:-}" >"${path}"
}
object_append() { printf '%s\n' "$4" >>"$(object_path "$1" "$2" "$3")"; }

runtime_on() { : >"${DOUBLE_CLUSTER}/runtime/${1}/${2}"; }
runtime_off() { rm -f "${DOUBLE_CLUSTER}/runtime/${1}/${2}"; }
runtime_is() { [[ -f "${DOUBLE_CLUSTER}/runtime/${1}/${2}" ]]; }

# api_answers: the API answers through the load balancer, which forwards to any master whose
# control plane is up. api_answers_at IP: that master's own apiserver answers.
api_answers() { compgen -G "${DOUBLE_CLUSTER}/runtime/*/control-plane" >/dev/null; }
api_answers_at() { runtime_is "$1" control-plane; }

member_line() { grep -E "^[0-9a-f]+\|[^|]*\|${1//./\\.}\|" "${DOUBLE_CLUSTER}/etcd/members" || true; }
member_id_for() { printf '%s' "$1" | sha256sum | cut -c1-16; }
members_without() { grep -v -E "^[0-9a-f]+\|[^|]*\|${1//./\\.}\|" "${DOUBLE_CLUSTER}/etcd/members" || true; }
member_remove_ip() {
  local rest
  rest="$(members_without "$1")"
  if [[ -n "${rest}" ]]; then printf '%s\n' "${rest}" >"${DOUBLE_CLUSTER}/etcd/members"; else : >"${DOUBLE_CLUSTER}/etcd/members"; fi
}
member_set() { # IP NAME IS_LEARNER
  local id
  id="$(member_line "$1" | cut -d'|' -f1)"
  [[ -n "${id}" ]] || id="$(member_id_for "$1")"
  member_remove_ip "$1"
  printf '%s|%s|%s|%s\n' "${id}" "$2" "$1" "$3" >>"${DOUBLE_CLUSTER}/etcd/members"
}
member_count() { grep -c . "${DOUBLE_CLUSTER}/etcd/members" || true; }

# The whole cluster lives in etcd: when the last member's data is deleted, every object goes with it.
forget_cluster() {
  rm -rf "${DOUBLE_CLUSTER}/objects" "${DOUBLE_CLUSTER}/pki"
  : >"${DOUBLE_CLUSTER}/etcd/members"
  mkdir -p "${DOUBLE_CLUSTER}/objects"
}
