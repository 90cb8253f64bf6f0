#!/usr/bin/env bash
# Managed by kubeha: keepalived's health check of the local nginx.
set -o errexit -o nounset -o pipefail
timeout 1 bash -c '</dev/tcp/127.0.0.1/6443'
# shellcheck disable=SC2016 # for the inner bash
answer="$(timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/16443 && IFS= read -r -t 1 line <&3 && printf "%s" "$line"' || true)"
[[ "${answer}" == ok ]]
