#!/usr/bin/env bash
# Renews this master's kubeadm certificates when they expire within KUBEHA_RENEW_WITHIN_DAYS, then
# restarts its static pods so they load them, and waits until its API server and etcd member are healthy.
# kubeadm's procedure ("Manual certificate renewal", kubernetes.io/docs/tasks/administer-cluster/kubeadm/
# kubeadm-certs/): `kubeadm certs renew all` rewrites the files only ("You must restart the kube-apiserver,
# kube-controller-manager, kube-scheduler and etcd", cmd/kubeadm/app/cmd/certs.go); static pods are the
# kubelet's, not the API's, so each is restarted by moving its manifest out of /etc/kubernetes/manifests,
# waiting the kubelet's fileCheckFrequency (20 s) until it is gone, and moving it back.
# Idempotent, decided from dates, not markers: the files are renewed only while they expire within the
# window, and the pods restart only while one of the four static-pod containers started before the newest
# renewed file (lib/static-pods.sh). What a server presents (openssl s_client) cannot tell: kube-apiserver
# and etcd reload their serving certificates from disk by themselves, while the client certificates they
# and the controller-manager and scheduler hold stay loaded until a restart. A run that died with the
# manifests moved aside puts them back first.
# `renew all` renews admin.conf's client certificate too: the copy kubeha keeps in KUBEHA_KUBECONFIG_SECRET_ID
# (stored by init-first-master.sh) would expire a year after init, so the renewed admin.conf is stored again.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/etcd.sh"
# shellcheck source=lib/static-pods.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/static-pods.sh"

MANIFESTS="${KUBEHA_ROOT}/etc/kubernetes/manifests"
ASIDE="${KUBEHA_STATE_DIR}/manifests-aside"

# earliest_leaf_expiry: the earliest expiry (epoch seconds) of the certificates kubeadm manages here, from
# `kubeadm certs check-expiration -o json` (output.kubeadm.k8s.io/v1alpha3; a missing one, such as
# super-admin.conf on a joined master, has no date and is left out).
earliest_leaf_expiry() {
  local info
  info="$(kubeadm certs check-expiration -o json 2>/dev/null)" || fail "kubeadm certs check-expiration failed"
  jq -r '[.certificates[] | select((.missing | not) and .expirationDate != null) | .expirationDate | fromdateiso8601] | min // empty' <<<"${info}"
}

# restart_pending: true while a static-pod container started before the newest renewed file (it holds an
# old client certificate); fails the script when crictl cannot tell.
restart_pending() {
  local stale
  stale="$(containers_before_renewal)" || fail "could not tell when the static pods started (crictl inspect)"
  [[ -n "${stale}" ]]
}

# put_manifests_back: moves every manifest set aside back where the kubelet reads it, never over one that
# is there (mv -n): a manifest written since the copy was set aside (an upgrade, a human) is newer, and
# the stale copy is removed instead.
put_manifests_back() {
  local file name
  for file in "${ASIDE}"/*.yaml; do
    [[ -e "${file}" ]] || continue
    name="${file##*/}"
    if [[ -e "${MANIFESTS}/${name}" ]]; then
      log "${MANIFESTS}/${name} exists: keeping it and removing the older copy set aside"
      rm -f "${file}"
    else
      mv -n "${file}" "${MANIFESTS}/${name}"
    fi
  done
}

# still_running: the static pods whose container still runs or whose pod sandbox is still there (one name a
# line). The kubelet kills a pod's containers first and its sandbox after (kuberuntime_manager.go
# killPodWithSyncResult); a manifest put back before then starts nothing new until the old pod has fully
# terminated (pod_workers.go). Fails closed: a crictl that cannot answer (containerd down) is not taken
# for "nothing runs".
still_running() {
  local pod ids sandboxes
  for pod in "${STATIC_PODS[@]}"; do
    ids="$(crictl ps --name "^${pod}\$" --state running -q)" || return 1
    sandboxes="$(crictl pods --name "^${pod}-" -q)" || return 1
    if [[ -n "${ids}" || -n "${sandboxes}" ]]; then printf '%s\n' "${pod}"; fi
  done
  return 0
}

# static_pods_stopped: true once none of the four runs nor has a sandbox left.
static_pods_stopped() {
  local running
  running="$(still_running)" || return 1
  [[ -z "${running}" ]]
}

# not_restarted: the static pods that do not run, or run a container that started before the newest
# renewed file (one name a line). Fails closed when crictl cannot tell.
not_restarted() {
  local renewed pod started
  renewed="$(newest_renewal_ns)" || return 1
  for pod in "${STATIC_PODS[@]}"; do
    started="$(container_started_ns "${pod}")" || return 1
    if [[ -z "${started}" ]] || ((started <= renewed)); then printf '%s\n' "${pod}"; fi
  done
  return 0
}

# back_and_healthy: all four static pods run containers started after the renewal, the API server is
# ready and this etcd member healthy.
back_and_healthy() {
  local ip behind
  ip="$(self_ip)"
  behind="$(not_restarted)" || return 1
  # etcdctl runs inside the etcd container (lib/etcd.sh): asked only once that container runs again.
  [[ -z "${behind}" ]] &&
    KUBEHA_API_WAIT_SECONDS=0 api_ready "${ADMIN_KUBECONFIG}" "https://${ip}:6443" &&
    endpoint_healthy "https://${ip}:2379"
}

# wait_for TIMEOUT CHECK DESCRIBE: polls CHECK every 2 s until it succeeds; when TIMEOUT runs out, fails
# with what DESCRIBE prints (it names what is still wrong).
wait_for() {
  local limit="$1" check="$2" describe="$3" waited=0
  until "${check}"; do
    ((waited < limit)) || fail "$("${describe}") within ${limit} s"
    sleep 2
    waited=$((waited + 2))
  done
}

describe_still_running() {
  local running
  running="$(still_running)" || { echo "the kubelet did not stop the static pods (crictl did not answer)"; return 0; }
  echo "the kubelet did not stop the static pods ($(paste -sd, - <<<"${running}") still runs)"
}

describe_not_back() {
  local behind
  behind="$(not_restarted)" || { echo "the static pods did not come back (crictl did not answer)"; return 0; }
  if [[ -n "${behind}" ]]; then
    echo "the static pods did not come back started after the renewal ($(paste -sd, - <<<"${behind}") not)"
  else
    echo "the API server and etcd member did not come back healthy"
  fi
}

# restart_static_pods: kubeadm's documented restart: each manifest out of the kubelet's directory, the
# pods gone after its next file check, then the manifests back and the pods started from them.
restart_static_pods() {
  local pod limit="${KUBEHA_STATIC_POD_WAIT_SECONDS:-120}"
  mkdir -p "${ASIDE}"
  chmod 0700 "${ASIDE}"
  # Whatever ends this run while the manifests are aside (a failed wait, SIGTERM from the command's
  # timeout) puts them back: a master left without them stays down. SIGKILL cannot be trapped: the next
  # run puts them back first (main).
  trap put_manifests_back EXIT
  trap 'exit 143' TERM INT
  for pod in "${STATIC_PODS[@]}"; do
    [[ -f "${MANIFESTS}/${pod}.yaml" ]] && mv -f "${MANIFESTS}/${pod}.yaml" "${ASIDE}/"
  done
  log "moved the static pod manifests aside; waiting for the kubelet to stop the pods"
  wait_for "${limit}" static_pods_stopped describe_still_running
  put_manifests_back
  trap - EXIT TERM INT
  log "manifests back; waiting for the four static pods, the API server and the etcd member"
  wait_for "${limit}" back_and_healthy describe_not_back
}

# store_admin_kubeconfig: puts this master's renewed admin.conf into the admin kubeconfig secret, once per
# content (the digest stored last is kept here), so re-runs do not pile up secret versions.
store_admin_kubeconfig() {
  local marker="${KUBEHA_STATE_DIR}/admin-kubeconfig-stored" digest
  digest="$(sha256sum "${ADMIN_KUBECONFIG}" | cut -d' ' -f1)"
  [[ -f "${marker}" && "$(cat "${marker}")" == "${digest}" ]] && return 1
  aws secretsmanager put-secret-value --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_KUBECONFIG_SECRET_ID}" \
    --secret-string "file://${ADMIN_KUBECONFIG}" >/dev/null || fail "could not store the renewed admin.conf in ${KUBEHA_KUBECONFIG_SECRET_ID}"
  mkdir -p "${KUBEHA_STATE_DIR}"
  printf '%s\n' "${digest}" >"${marker}"
}

main() {
  require_env KUBEHA_RENEW_WITHIN_DAYS KUBEHA_KUBECONFIG_SECRET_ID KUBEHA_REGION
  require_match KUBEHA_RENEW_WITHIN_DAYS '^[0-9]{1,3}$' 'a number of days'
  [[ -f "${ADMIN_KUBECONFIG}" ]] || fail "this node is not a control-plane node (${ADMIN_KUBECONFIG} is missing)"
  if compgen -G "${ASIDE}/*.yaml" >/dev/null; then
    log "putting back the static pod manifests an earlier run left aside"
    put_manifests_back
  fi

  local before after window renewed=false restarted=false stored=false
  window=$(($(date +%s) + KUBEHA_RENEW_WITHIN_DAYS * 86400))
  before="$(earliest_leaf_expiry)"
  [[ -n "${before}" ]] || fail "kubeadm reports no certificates on this node"
  if ((before <= window)); then
    log "certificates expire at $(date -u -d "@${before}" +%FT%TZ), within ${KUBEHA_RENEW_WITHIN_DAYS} days: renewing them"
    run_logged kubeadm-certs-renew kubeadm certs renew all || fail "kubeadm certs renew all failed"
    renewed=true
  fi
  after="$(earliest_leaf_expiry)"
  ((after > window)) || fail "the certificates still expire at $(date -u -d "@${after}" +%FT%TZ) after renewal"

  if restart_pending; then
    log "static pods started before the certificates were renewed ($(containers_before_renewal | paste -sd, -)): restarting them"
    restart_static_pods
    restarted=true
  fi
  wait_for "${KUBEHA_STATIC_POD_WAIT_SECONDS:-120}" back_and_healthy describe_not_back
  # Whenever admin.conf differs from what this master stored last: also after a run that renewed and died.
  if store_admin_kubeconfig; then
    stored=true
    log "stored the renewed admin.conf in ${KUBEHA_KUBECONFIG_SECRET_ID}"
  fi
  log "certificates expire at $(date -u -d "@${after}" +%FT%TZ); API server and etcd member healthy"
  result "$(jq -cn --argjson renewed "${renewed}" --argjson restarted "${restarted}" --argjson stored "${stored}" --arg expiresAt "$(date -u -d "@${after}" +%FT%TZ)" \
    '{changed: ($renewed or $restarted or $stored), renewed: $renewed, restarted: $restarted, kubeconfigStored: $stored, expiresAt: $expiresAt}')"
}

main "$@"
