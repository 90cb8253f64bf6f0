# shellcheck shell=bash
# Helpers shared by every kubeha node script. The document builder inlines this file where a
# script sources it, so each SSM document is self-contained on the instance.
#
# KUBEHA_ROOT prefixes every path the scripts touch. It is empty on instances and a temporary
# directory in tests, so the same code runs in both places.

KUBEHA_ROOT="${KUBEHA_ROOT:-}"
# shellcheck disable=SC2034 # used by the scripts that source this file
KUBEHA_STATE_DIR="${KUBEHA_ROOT}/var/lib/kubeha"
KUBEHA_LOG_DIR="${KUBEHA_ROOT}/var/log/kubeha"

# log MESSAGE...: progress for the SSM command output (never a secret).
log() {
  printf 'kubeha: %s\n' "$*"
}

# fail MESSAGE...: reason on stderr, where the control plane reads it, then exit 1.
fail() {
  printf 'kubeha: error: %s\n' "$*" >&2
  exit 1
}

# require_env NAME...: every named variable must be set and non-empty.
require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || fail "${name} is not set"
  done
}

# require_match NAME REGEX WHAT: the variable NAME must match REGEX (documents and the Lambda side check
# their parameters already; a script also runs by hand, and its values reach generated files and
# commands). WHAT says what NAME must be.
require_match() {
  [[ "${!1:-}" =~ $2 ]] || fail "$1 must be $3"
}

# result JSON: the machine-readable last line the control plane parses.
result() {
  printf 'KUBEHA_RESULT %s\n' "$1"
}

# mask: copies stdin to stdout with anything shaped like join material blanked out.
mask() {
  sed -E -e 's/[a-z0-9]{6}\.[a-z0-9]{16}/[masked-token]/g' -e 's/[a-f0-9]{64}/[masked-key]/g'
}

# run_logged LOGNAME COMMAND...: runs a command with its output kept in a root-only log file; on
# failure the masked tail of that log goes to stderr. The command runs in a subshell, so a shell
# function that calls `fail` ends that subshell, not the script, and its message reaches stderr
# through the tail. Never give it a command that prints a secret: the log outlives the run.
run_logged() {
  local name="$1"
  shift
  mkdir -p "${KUBEHA_LOG_DIR}"
  chmod 0700 "${KUBEHA_LOG_DIR}"
  local logfile="${KUBEHA_LOG_DIR}/${name}.log" status=0
  ("$@") >"${logfile}" 2>&1 || status=$?
  if ((status != 0)); then
    printf 'kubeha: %s failed; last lines of %s:\n' "${name}" "${logfile}" >&2
    tail -n 25 "${logfile}" | mask >&2
    return "${status}"
  fi
}

# private_workdir: a directory only root can read, removed when the script exits. Prints its path.
private_workdir() {
  local dir
  dir="$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/kubeha.XXXXXX")"
  printf '%s\n' "${dir}"
}

# The extra group of each kind of bootstrap token. kubeadm binds its default group to everything a join
# needs, kube-system/kubeadm-certs included (copycerts.go createRBAC); workers get a group of kubeha's own,
# bound to what a worker join needs and nothing else (refresh-join-material.sh). Bootstrap token groups
# must match system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9] (k8s.io/cluster-bootstrap token/api BootstrapGroupPattern).
# shellcheck disable=SC2034 # used by the scripts that source this file
CONTROL_PLANE_TOKEN_GROUP="system:bootstrappers:kubeadm:default-node-token"
# shellcheck disable=SC2034
WORKER_TOKEN_GROUP="system:bootstrappers:kubeha:worker"

# read_join_material KIND: reads the join secret version named by KUBEHA_JOIN_SECRET_ARN and
# KUBEHA_JOIN_SECRET_VERSION_ID with the instance's own role and sets JOIN_KIND, JOIN_TOKEN and, for
# control-plane material only, JOIN_CERTIFICATE_KEY. KIND is what the caller needs: worker (a worker join:
# the secret must hold no certificate key), control-plane, or any (refresh on a master registers either kind,
# told apart by whether the secret holds a certificate key). A worker's role cannot read the
# control-plane secret at all; the check here is the second line.
read_join_material() {
  local want="$1" secret
  require_env KUBEHA_JOIN_SECRET_ARN KUBEHA_JOIN_SECRET_VERSION_ID KUBEHA_REGION
  secret="$(aws secretsmanager get-secret-value --region "${KUBEHA_REGION}" \
    --secret-id "${KUBEHA_JOIN_SECRET_ARN}" --version-id "${KUBEHA_JOIN_SECRET_VERSION_ID}" \
    --query SecretString --output text)" || fail "could not read the join secret (is the kubeha node instance profile attached?)"
  JOIN_TOKEN="$(jq -r '.token // empty' <<<"${secret}")"
  JOIN_CERTIFICATE_KEY=""
  JOIN_KIND=worker
  if jq -e 'has("certificateKey")' >/dev/null <<<"${secret}"; then JOIN_KIND=control-plane; fi
  [[ "${want}" == any || "${want}" == "${JOIN_KIND}" ]] ||
    fail "the join secret holds ${JOIN_KIND} material, but a ${want} join needs ${want} material"
  [[ "${JOIN_TOKEN}" =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || fail "the join secret holds no valid bootstrap token"
  if [[ "${JOIN_KIND}" == control-plane ]]; then
    JOIN_CERTIFICATE_KEY="$(jq -r '.certificateKey // empty' <<<"${secret}")"
    [[ "${JOIN_CERTIFICATE_KEY}" =~ ^[a-f0-9]{64}$ ]] || fail "the join secret holds no valid certificate key"
  fi
  secret=""
  # Deliberately not exported: only this shell writes them into the private config file, and no
  # child process (kubeadm, kubectl, aws) needs them in its environment.
}

# imds PATH: reads instance metadata with IMDSv2. Tests set KUBEHA_SELF_IP / KUBEHA_INSTANCE_ID instead.
imds() {
  local token
  token="$(curl -fsS -m 2 -X PUT 'http://169.254.169.254/latest/api/token' -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')"
  curl -fsS -m 2 -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/$1"
}

self_ip() {
  if [[ -n "${KUBEHA_SELF_IP:-}" ]]; then printf '%s\n' "${KUBEHA_SELF_IP}"; else imds local-ipv4; fi
}

self_instance_id() {
  if [[ -n "${KUBEHA_INSTANCE_ID:-}" ]]; then printf '%s\n' "${KUBEHA_INSTANCE_ID}"; else imds instance-id; fi
}

# The kubeadm config API every supported minor (1.35+) reads, and paths kubeadm owns.
# shellcheck disable=SC2034 # used by the scripts that source this file
KUBEADM_API_VERSION="kubeadm.k8s.io/v1beta4"
# shellcheck disable=SC2034
CRI_SOCKET="unix:///run/containerd/containerd.sock"
# shellcheck disable=SC2034
ADMIN_KUBECONFIG="${KUBEHA_ROOT}/etc/kubernetes/admin.conf"
# shellcheck disable=SC2034
KUBELET_KUBECONFIG="${KUBEHA_ROOT}/etc/kubernetes/kubelet.conf"
# shellcheck disable=SC2034
BOOTSTRAP_KUBELET_KUBECONFIG="${KUBEHA_ROOT}/etc/kubernetes/bootstrap-kubelet.conf"

# The API server as every node reaches it without leaving the node: on a master its own kube-apiserver
# (listening on 6443 on all addresses), on a worker the node-local proxy to every master (lib/node-proxy.sh).
# shellcheck disable=SC2034
LOCAL_API_SERVER="https://127.0.0.1:6443"

# node_name: the name kubeadm registers this node under (the lower-cased hostname, its default).
node_name() {
  hostname | tr '[:upper:]' '[:lower:]'
}

# nodes_json: reads Node objects (one, or a NodeList) on stdin and prints each as healing reads it:
# name, InternalIP, Ready and whether it is a control-plane node, a JSON array.
nodes_json() {
  jq -c '[(if .kind == "NodeList" or has("items") then .items[] else . end) | {
    name: .metadata.name,
    internalIp: ([.status.addresses[]? | select(.type == "InternalIP") | .address][0] // ""),
    ready: any(.status.conditions[]?; .type == "Ready" and .status == "True"),
    controlPlane: (.metadata.labels // {} | has("node-role.kubernetes.io/control-plane"))
  }]'
}

# kube KUBECONFIG ARGS...: kubectl with that identity, quietly, bounded in time.
kube() {
  local kubeconfig="$1"
  shift
  kubectl --kubeconfig "${kubeconfig}" --request-timeout=10s "$@" 2>/dev/null
}

# kube_proxy_kubeconfig KUBECONFIG: the kubeconfig kube-proxy runs with, the key kubeconfig.conf of the
# kube-system/kube-proxy ConfigMap kubeadm's addon phase writes (cmd/kubeadm/app/phases/addons/proxy/
# manifests.go KubeProxyConfigMap19); fails when the ConfigMap cannot be read, prints nothing when it
# has no such key.
kube_proxy_kubeconfig() {
  kube "$1" -n kube-system get configmap kube-proxy -o 'jsonpath={.data.kubeconfig\.conf}'
}

# kubeconfig_servers: the server of each cluster in the kubeconfig on stdin, one per line.
kubeconfig_servers() {
  sed -n -E 's/^[[:space:]]*server:[[:space:]]*"?([^"[:space:]]*)"?[[:space:]]*$/\1/p'
}

# api_ready KUBECONFIG [SERVER]: true once the API (or the apiserver at SERVER) answers /readyz,
# waiting up to KUBEHA_API_WAIT_SECONDS (default 90) for one that is still starting, as after a reboot.
api_ready() {
  local kubeconfig="$1" server="${2:-}" waited=0 limit="${KUBEHA_API_WAIT_SECONDS:-90}"
  local -a server_flag=()
  [[ -n "${server}" ]] && server_flag=(--server "${server}")
  [[ -r "${kubeconfig}" ]] || return 1
  until kube "${kubeconfig}" "${server_flag[@]}" get --raw /readyz >/dev/null; do
    ((waited < limit)) || return 1
    sleep 3
    waited=$((waited + 3))
  done
}

# kubeadm_state_on_node: prints what kubeadm left on this node (nothing on a fresh node). The
# kubelet package ships /etc/kubernetes/manifests/.kubelet-keep, so that file alone means nothing.
kubeadm_state_on_node() {
  local kubernetes="${KUBEHA_ROOT}/etc/kubernetes" path
  for path in admin.conf super-admin.conf kubelet.conf bootstrap-kubelet.conf controller-manager.conf scheduler.conf; do
    [[ -e "${kubernetes}/${path}" ]] && printf '%s\n' "/etc/kubernetes/${path}"
  done
  if [[ -d "${kubernetes}/pki" && -n "$(ls -A "${kubernetes}/pki")" ]]; then printf '%s\n' /etc/kubernetes/pki; fi
  if [[ -d "${kubernetes}/manifests" && -n "$(find "${kubernetes}/manifests" -mindepth 1 -maxdepth 1 ! -name .kubelet-keep -print -quit)" ]]; then
    printf '%s\n' /etc/kubernetes/manifests
  fi
  if [[ -d "${KUBEHA_ROOT}/var/lib/etcd" && -n "$(ls -A "${KUBEHA_ROOT}/var/lib/etcd")" ]]; then printf '%s\n' /var/lib/etcd; fi
  [[ -e "${KUBEHA_ROOT}/var/lib/kubelet/config.yaml" ]] && printf '%s\n' /var/lib/kubelet/config.yaml
  return 0
}

# reset_kubeadm_state: `kubeadm reset --force`, then what its own output says it leaves behind: the
# CNI configuration, the iptables and IPVS rules kube-proxy and the CNI wrote, root's kubeconfig, and
# kubeha's record that admin.conf was stored (a new init makes a new admin.conf).
reset_kubeadm_state() {
  run_logged kubeadm-reset kubeadm reset --force || fail "kubeadm reset failed"
  rm -rf "${KUBEHA_ROOT}/etc/cni/net.d" "${KUBEHA_ROOT}/root/.kube/config" "${KUBEHA_STATE_DIR}/admin-kubeconfig-stored"
  local table
  if command -v iptables >/dev/null 2>&1; then
    for table in filter nat mangle; do
      iptables -t "${table}" -F >/dev/null 2>&1 || true
    done
    iptables -X >/dev/null 2>&1 || true
  fi
  if command -v ipvsadm >/dev/null 2>&1; then ipvsadm --clear >/dev/null 2>&1 || true; fi
}

# run_kubeadm LOGNAME ARGS...: kubeadm, logged, killed if it runs longer than
# KUBEHA_KUBEADM_TIMEOUT_SECONDS (default 900): a wedged phase must fail this run, not the whole
# document's timeout, so the next run can reset and retry.
run_kubeadm() {
  local name="$1" limit="${KUBEHA_KUBEADM_TIMEOUT_SECONDS:-900}" status=0
  shift
  run_logged "${name}" timeout --kill-after=10 "${limit}" kubeadm "$@" || status=$?
  if ((status == 124 || status == 137)); then
    fail "kubeadm $1 did not finish within ${limit} s"
  fi
  return "${status}"
}

# install_if_changed CANDIDATE TARGET MODE: moves CANDIDATE over TARGET unless identical. Returns 0 if it changed.
install_if_changed() {
  local candidate="$1" target="$2" mode="$3"
  if [[ -f "${target}" ]] && cmp -s "${candidate}" "${target}"; then
    rm -f "${candidate}"
    return 1
  fi
  chmod "${mode}" "${candidate}"
  mv "${candidate}" "${target}"
}

# install_nginx_conf_if_valid CANDIDATE TARGET WHAT: `nginx -t` on the rendered CANDIDATE before it may replace
# the live TARGET (a broken file never reaches a reload); fails naming WHAT, the live file left in place.
# Returns 0 if the file changed, as install_if_changed does.
install_nginx_conf_if_valid() {
  local candidate="$1" target="$2" what="$3"
  if ! nginx -t -q -c "${candidate}" 2>"${candidate}.err"; then
    mask <"${candidate}.err" >&2
    rm -f "${candidate}" "${candidate}.err"
    fail "the rendered ${what} failed nginx -t; the live configuration was left in place"
  fi
  rm -f "${candidate}.err"
  install_if_changed "${candidate}" "${target}" 0644
}
