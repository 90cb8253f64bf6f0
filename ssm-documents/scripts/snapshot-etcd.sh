#!/usr/bin/env bash
# Saves an etcd snapshot from this control-plane node and uploads it to the cluster's snapshot
# bucket (encrypted by the bucket's default encryption), before healing changes etcd membership.
#
# Environment: KUBEHA_SNAPSHOT_BUCKET, KUBEHA_CLUSTER_NAME, KUBEHA_SNAPSHOT_LABEL, KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/etcd.sh"

main() {
  require_env KUBEHA_SNAPSHOT_BUCKET KUBEHA_CLUSTER_NAME KUBEHA_SNAPSHOT_LABEL KUBEHA_REGION
  # /var/lib/etcd is the etcd pod's hostPath volume: a file saved there inside the container is on the host too.
  local name="kubeha-snapshot-${KUBEHA_SNAPSHOT_LABEL}.db"
  local in_container="/var/lib/etcd/${name}" on_host="${KUBEHA_ROOT}/var/lib/etcd/${name}"
  local key="${KUBEHA_CLUSTER_NAME}/${KUBEHA_SNAPSHOT_LABEL}.db"
  if [[ -n "${KUBEHA_ETCDCTL:-}" ]]; then in_container="${on_host}"; fi
  # shellcheck disable=SC2064 # expand now: remove this very file on exit
  trap "rm -f '${on_host}'" EXIT
  run_logged etcd-snapshot etcdctl_cmd snapshot save "${in_container}" || fail "etcdctl snapshot save failed"
  local bytes
  bytes="$(stat -c %s "${on_host}")"
  aws s3 cp --region "${KUBEHA_REGION}" --only-show-errors "${on_host}" "s3://${KUBEHA_SNAPSHOT_BUCKET}/${key}" ||
    fail "could not upload the snapshot to s3://${KUBEHA_SNAPSHOT_BUCKET}/${key}"
  log "saved etcd snapshot (${bytes} bytes) to s3://${KUBEHA_SNAPSHOT_BUCKET}/${key}"
  result "{\"bucket\":\"${KUBEHA_SNAPSHOT_BUCKET}\",\"key\":\"${key}\",\"bytes\":${bytes}}"
}

main "$@"
