#!/usr/bin/env bash
# Managed by kubeha: keepalived's health check of the local nginx (see configure-load-balancer.sh).
set -o nounset -o pipefail
state_file='<KUBEHA_ROOT>/run/kubeha/nginx-check'
unanswered=0 refused=0
if [[ -r "${state_file}" ]]; then read -r unanswered refused <"${state_file}" || true; else mkdir -p "${state_file%/*}"; fi
started=${EPOCHREALTIME/./}
for offset in 0 333333 666666; do
  wait=$((started + offset - ${EPOCHREALTIME/./}))
  if ((wait > 0)); then
    printf -v fraction '%06d' $((wait % 1000000))
    sleep "$((wait / 1000000)).${fraction}"
  fi
  if { exec 3<>/dev/tcp/127.0.0.1/16443; } 2>/dev/null; then
    answer=''
    if IFS= read -r -t 0.25 answer <&3 && [[ "${answer}" == ok ]]; then unanswered=0; else unanswered=$((unanswered + 1)); fi
    refused=0
    exec 3<&-
  else
    refused=$((refused + 1)) unanswered=0
  fi
  printf '%s %s\n' "${unanswered}" "${refused}" >"${state_file}"
  ((unanswered < 2 && refused < 4)) || exit 1
done
exit 0
