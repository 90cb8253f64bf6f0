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

# result JSON: the machine-readable last line the control plane parses.
result() {
  printf 'KUBEHA_RESULT %s\n' "$1"
}

# mask: copies stdin to stdout with anything shaped like join material blanked out.
mask() {
  sed -E -e 's/[a-z0-9]{6}\.[a-z0-9]{16}/[masked-token]/g' -e 's/[a-f0-9]{64}/[masked-key]/g'
}

# run_logged LOGNAME COMMAND...: runs a command with its output kept in a root-only log file; on
# failure the masked tail of that log goes to stderr.
run_logged() {
  local name="$1"
  shift
  mkdir -p "${KUBEHA_LOG_DIR}"
  chmod 0700 "${KUBEHA_LOG_DIR}"
  local logfile="${KUBEHA_LOG_DIR}/${name}.log"
  if ! "$@" >"${logfile}" 2>&1; then
    printf 'kubeha: %s failed; last lines of %s:\n' "${name}" "${logfile}" >&2
    tail -n 25 "${logfile}" | mask >&2
    return 1
  fi
}

# private_workdir: a directory only root can read, removed when the script exits. Prints its path.
private_workdir() {
  local dir
  dir="$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/kubeha.XXXXXX")"
  printf '%s\n' "${dir}"
}

# read_join_material: sets JOIN_TOKEN and JOIN_CERTIFICATE_KEY from the join secret version named by
# KUBEHA_JOIN_SECRET_ARN and KUBEHA_JOIN_SECRET_VERSION_ID, read with the instance's own role.
read_join_material() {
  require_env KUBEHA_JOIN_SECRET_ARN KUBEHA_JOIN_SECRET_VERSION_ID KUBEHA_REGION
  local secret
  secret="$(aws secretsmanager get-secret-value --region "${KUBEHA_REGION}" \
    --secret-id "${KUBEHA_JOIN_SECRET_ARN}" --version-id "${KUBEHA_JOIN_SECRET_VERSION_ID}" \
    --query SecretString --output text)" || fail "could not read the join secret (is the kubeha node instance profile attached?)"
  JOIN_TOKEN="$(jq -r '.token // empty' <<<"${secret}")"
  JOIN_CERTIFICATE_KEY="$(jq -r '.certificateKey // empty' <<<"${secret}")"
  [[ "${JOIN_TOKEN}" =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || fail "the join secret holds no valid bootstrap token"
  [[ "${JOIN_CERTIFICATE_KEY}" =~ ^[a-f0-9]{64}$ ]] || fail "the join secret holds no valid certificate key"
  export JOIN_TOKEN JOIN_CERTIFICATE_KEY
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
