#!/usr/bin/env bash
# Managed by kubeha: keepalived calls this on state changes and every 10 s (REASSERT); MASTER claims the Elastic IP.
set -o errexit -o nounset -o pipefail
state_file='<KUBEHA_ROOT>/run/kubeha/vrrp-state'
case "${1:-}" in
  MASTER | BACKUP | FAULT | STOP)
    mkdir -p "$(dirname "${state_file}")"
    printf '%s\n' "$1" >"${state_file}"
    [[ "$1" == MASTER ]] || exit 0
    ;;
  REASSERT)
    [[ "$(cat "${state_file}" 2>/dev/null)" == MASTER ]] || exit 0
    # A keepalived that died as MASTER and started again runs this before its first transition rewrites the
    # file; the marker address is on lo only while the running keepalived is MASTER (it removes it at start).
    [[ -n "$(ip -o -4 addr show dev lo to 192.0.2.1/32 2>/dev/null)" ]] || exit 0
    ;;
  *) exit 0 ;;
esac
token=$(curl -fsS -m 2 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') || exit 0
instance_id=$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: ${token}" http://169.254.169.254/latest/meta-data/instance-id) || exit 0
if [[ "$1" == REASSERT ]]; then
  holder=$(aws ec2 describe-addresses --region 'eu-west-1' --allocation-ids 'eipalloc-0abc12345def67890' \
    --query 'Addresses[0].InstanceId' --output text 2>/dev/null) || exit 0
  [[ "${holder}" == "${instance_id}" ]] && exit 0
  logger -t kubeha "Elastic IP 'eipalloc-0abc12345def67890' is on ${holder}, not on this MASTER; claiming it again"
fi
for attempt in 1 2 3 4 5; do
  if aws ec2 associate-address --region 'eu-west-1' --allocation-id 'eipalloc-0abc12345def67890' \
      --instance-id "${instance_id}" --allow-reassociation >/dev/null; then
    logger -t kubeha "claimed Elastic IP 'eipalloc-0abc12345def67890' for ${instance_id}"
    exit 0
  fi
  sleep "${attempt}"
done
logger -t kubeha "could not claim Elastic IP 'eipalloc-0abc12345def67890'"
# A failing REASSERT would put the VRRP instance in FAULT; the next round tries again.
[[ "$1" == REASSERT ]] && exit 0
exit 1
