#!/usr/bin/env bash
# Managed by kubeha: keepalived calls this on state changes; MASTER claims the Elastic IP.
set -o errexit -o nounset -o pipefail
[[ "${1:-}" == "MASTER" ]] || exit 0
token=$(curl -fsS -m 2 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
instance_id=$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: ${token}" http://169.254.169.254/latest/meta-data/instance-id)
for attempt in 1 2 3 4 5; do
  if aws ec2 associate-address --region 'eu-west-1' --allocation-id 'eipalloc-0abc12345def67890' \
      --instance-id "${instance_id}" --allow-reassociation >/dev/null; then
    logger -t kubeha "claimed Elastic IP 'eipalloc-0abc12345def67890' for ${instance_id}"
    exit 0
  fi
  sleep "${attempt}"
done
logger -t kubeha "could not claim Elastic IP 'eipalloc-0abc12345def67890'"
exit 1
