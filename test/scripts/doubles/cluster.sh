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

# not_after FILE: a certificate's expiry in epoch seconds. The doubles' certificates are text with a
# "notAfter=EPOCH" line (kubeadm's own writes them); the cluster CA is the test's real PEM.
not_after() {
  if grep -q 'notAfter=' "$1"; then
    sed -n -E 's/.*notAfter=([0-9]+).*/\1/p' "$1" | head -n 1
  else
    date -u -d "$(openssl x509 -enddate -noout -in "$1" | cut -d= -f2)" +%s
  fi
}

# served_record COMPONENT: a static pod has just started on this node (kube-apiserver stands for the
# control plane: the API server, controller-manager and scheduler start together; etcd for itself). Each
# container's start is recorded (runtime/<ip>/started-<container>, nanoseconds since the epoch) for
# `crictl inspect`'s status.startedAt: what it loaded from disk at start is what it holds until it
# restarts, except the serving certificates, which the openssl double reads from disk as they are reloaded.
served_record() {
  case "$1" in
    kube-apiserver) container_started kube-apiserver kube-controller-manager kube-scheduler ;;
    etcd) container_started etcd ;;
  esac
}

# container_started CONTAINER...: these containers run on this node from now (controller-manager and
# scheduler have a runtime flag of their own; the API server's is control-plane, etcd's etcd).
container_started() {
  local container
  for container in "$@"; do
    case "${container}" in
      kube-apiserver) runtime_on "${SELF_IP}" control-plane ;;
      etcd) runtime_on "${SELF_IP}" etcd ;;
      *) runtime_on "${SELF_IP}" "${container}" ;;
    esac
    date +%s%N >"${DOUBLE_CLUSTER}/runtime/${SELF_IP}/started-${container}"
  done
}

# container_runtime CONTAINER: the runtime flag that says whether it runs.
container_runtime() {
  case "$1" in
    kube-apiserver) echo control-plane ;;
    etcd) echo etcd ;;
    *) echo "$1" ;;
  esac
}

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

# ---- Bootstrap tokens and RBAC, as the API server authenticates and authorizes them ----------------
# A bootstrap token's Secret (kube-system/bootstrap-token-<id>) is "secret-sha256 <hash>" then
# "groups <g1,g2>"; the authenticator gives its holder the user system:bootstrap:<id> and the groups
# system:bootstrappers plus the token's auth-extra-groups (kubernetes plugin/pkg/auth/authenticator/token/
# bootstrap/bootstrap.go AuthenticateToken). RBAC objects live beside the others:
#   objects/-/clusterrole/<name>, objects/<ns>/role/<name>          "rule VERB RESOURCE [RESOURCE_NAME]" lines
#   objects/-/clusterrolebinding/<name>, objects/<ns>/rolebinding/<name>   "roleRef KIND NAME" and "subject Group NAME"
# A RoleBinding grants only in its namespace; a ClusterRoleBinding everywhere (rbac/v1 API reference).
token_put() { # TOKEN GROUPS(comma list)
  object_put kube-system secret "bootstrap-token-${1%%.*}" "secret-sha256 $(printf '%s' "$1" | sha256sum | cut -c1-64)
groups $2"
}

# token_groups TOKEN: the groups of a valid token, one per line; nothing (status 1) for an unknown one.
token_groups() {
  local path
  path="$(object_path kube-system secret "bootstrap-token-${1%%.*}")"
  [[ -f "${path}" && "$(head -n 1 "${path}")" == "secret-sha256 $(printf '%s' "$1" | sha256sum | cut -c1-64)" ]] || return 1
  printf 'system:bootstrappers\n'
  sed -n 's/^groups //p' "${path}" | tr ',' '\n' | grep . || true
}

rbac_role() { # NAMESPACE(- for a ClusterRole) NAME RULE...: RULE is "VERB RESOURCE [RESOURCE_NAME]"
  local namespace="$1" name="$2" kind=role rule
  shift 2
  [[ "${namespace}" == - ]] && kind=clusterrole
  object_put "${namespace}" "${kind}" "${name}" "$(for rule in "$@"; do printf 'rule %s\n' "${rule}"; done)"
}

rbac_bind() { # NAMESPACE(- for a ClusterRoleBinding) NAME ROLE_KIND ROLE_NAME GROUP...
  local namespace="$1" name="$2" role_kind="$3" role_name="$4" kind=rolebinding group
  shift 4
  [[ "${namespace}" == - ]] && kind=clusterrolebinding
  object_put "${namespace}" "${kind}" "${name}" "roleRef ${role_kind} ${role_name}$(for group in "$@"; do printf '\nsubject Group %s' "${group}"; done)"
}

# authorized VERB RESOURCE NAMESPACE NAME GROUP...: whether any binding of one of the groups grants
# VERB on RESOURCE (NAME) in NAMESPACE (- for cluster-scoped), through its Role or ClusterRole. Builtins
# only (mapfile, no grep): joins call it several times, and a hang test gives kubeadm two seconds.
authorized() {
  local verb="$1" resource="$2" namespace="$3" name="$4" binding group line role_path rule_verb rule_resource rule_name subject
  local -a binding_lines role_lines
  shift 4
  for binding in "${DOUBLE_CLUSTER}"/objects/-/clusterrolebinding/* "${DOUBLE_CLUSTER}/objects/${namespace}"/rolebinding/*; do
    [[ -f "${binding}" ]] || continue
    mapfile -t binding_lines <"${binding}"
    for group in "$@"; do
      subject=false role_path=""
      for line in "${binding_lines[@]}"; do
        case "${line}" in
          "subject Group ${group}") subject=true ;;
          "roleRef ClusterRole "*) role_path="${DOUBLE_CLUSTER}/objects/-/clusterrole/${line#roleRef ClusterRole }" ;;
          "roleRef Role "*) role_path="${DOUBLE_CLUSTER}/objects/${namespace}/role/${line#roleRef Role }" ;;
        esac
      done
      [[ "${subject}" == true && -f "${role_path}" ]] || continue
      mapfile -t role_lines <"${role_path}"
      for line in "${role_lines[@]}"; do
        read -r _ rule_verb rule_resource rule_name <<<"${line}"
        [[ "${rule_verb}" == "${verb}" && "${rule_resource}" == "${resource}" && ( -z "${rule_name}" || "${rule_name}" == "${name}" ) ]] && return 0
      done
    done
  done
  return 1
}

# token_may TOKEN VERB RESOURCE NAMESPACE NAME: the token authenticates and its groups are authorized.
token_may() {
  local token="$1" groups
  shift
  groups="$(token_groups "${token}")" || return 1
  local -a list
  mapfile -t list <<<"${groups}"
  authorized "$@" "${list[@]}"
}

# forbidden TOKEN VERB RESOURCE NAMESPACE NAME: the API server's 403 message.
forbidden() {
  local where=""
  [[ "$4" != - ]] && where=" in the namespace \"$4\""
  printf '%s "%s" is forbidden: User "system:bootstrap:%s" cannot %s resource "%s" in API group "" %s\n' "$3" "$5" "${1%%.*}" "$2" "$3" "${where# }"
}

# ---- ConfigMaps with data, and DaemonSets' pod-template annotations -----------------------------------
# A ConfigMap with data is kept as the manifest kubeadm renders and `kubectl get -o yaml` shows: metadata,
# then `data:` with each value as a literal block (`KEY: |-`, lines indented four spaces), as go-yaml
# writes a multi-line string (kubeadm phases/addons/proxy/manifests.go KubeProxyConfigMap19). Values are
# kept without a trailing newline, as `|-` reads them.
configmap_get() { # NAMESPACE NAME KEY: prints the value; status 1 when the key is absent
  KEY="$3" awk '
    $0 == "  " ENVIRON["KEY"] ": |-" { found = 1; inside = 1; next }
    inside && /^    / { print substr($0, 5); next }
    inside && /^$/ { print ""; next }
    { inside = 0 }
    END { exit found ? 0 : 1 }
  ' "$(object_path "$1" configmap "$2")"
}

configmap_set() { # NAMESPACE NAME KEY VALUE: replaces (or adds) one key, leaving the others as they are
  local path
  path="$(object_path "$1" configmap "$2")"
  KEY="$3" VALUE="$4" awk '
    function block() { n = split(ENVIRON["VALUE"], lines, "\n"); print "  " ENVIRON["KEY"] ": |-"; for (i = 1; i <= n; i++) print (lines[i] == "" ? "" : "    " lines[i]); done = 1 }
    $0 == "  " ENVIRON["KEY"] ": |-" { block(); skip = 1; next }
    skip && (/^    / || /^$/) { next }
    { skip = 0; print }
    END { if (!done) block() }
  ' "${path}" >"${path}.new"
  mv "${path}.new" "${path}"
}

# kube_proxy_configmap ENDPOINT POD_SUBNET: kube-system/kube-proxy as kubeadm's addon phase writes it
# (phases/addons/proxy/proxy.go createKubeProxyConfigMap: kubeconfig.conf's server is the control-plane
# endpoint, kubeadmutil.GetControlPlaneEndpoint, with https://; config.conf is the KubeProxyConfiguration,
# whose clientConnection.kubeconfig names kubeconfig.conf). It creates or replaces the whole object
# (apiclient.CreateOrUpdateConfigMap), so a change made since is lost: `kubeadm upgrade apply` runs the
# same EnsureProxyAddon (cmd/phases/upgrade/apply/addons.go runKubeProxyAddon).
kube_proxy_configmap() {
  object_put kube-system configmap kube-proxy "kind: ConfigMap
apiVersion: v1
metadata:
  name: kube-proxy
  namespace: kube-system
  labels:
    app: kube-proxy
data:
  kubeconfig.conf: |-
    apiVersion: v1
    kind: Config
    clusters:
    - cluster:
        certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
        server: $1
      name: default
    contexts:
    - context:
        cluster: default
        namespace: default
        user: default
      name: default
    current-context: default
    users:
    - name: default
      user:
        tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
  config.conf: |-
    apiVersion: kubeproxy.config.k8s.io/v1alpha1
    kind: KubeProxyConfiguration
    clientConnection:
      kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
    clusterCIDR: $2
    mode: \"\""
}

# A DaemonSet keeps its pod template's annotations as "annotation KEY=VALUE" lines. kubeadm's addon phase
# replaces the whole DaemonSet (apiclient.CreateOrUpdateDaemonSet), dropping any annotation added since.
daemonset_annotation() { # NAMESPACE NAME KEY: prints the value, nothing when unset
  PREFIX="annotation $3=" awk 'index($0, ENVIRON["PREFIX"]) == 1 { print substr($0, length(ENVIRON["PREFIX"]) + 1) }' "$(object_path "$1" daemonset "$2")"
}
daemonset_annotate() { # NAMESPACE NAME KEY VALUE
  local path
  path="$(object_path "$1" daemonset "$2")"
  { PREFIX="annotation $3=" awk 'index($0, ENVIRON["PREFIX"]) != 1' "${path}"; printf 'annotation %s=%s\n' "$3" "$4"; } >"${path}.new"
  mv "${path}.new" "${path}"
}
