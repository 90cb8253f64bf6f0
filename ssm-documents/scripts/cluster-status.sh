#!/usr/bin/env bash
# Reports, from a healthy control-plane node, every etcd member with its health and learner flag,
# and every Kubernetes node with its Ready condition and address. Read-only; used by healing to
# decide (in the control plane, not here) whether a membership change keeps quorum.
# It also reports when this master's kubeadm-managed certificates expire (the earliest leaf and the
# earliest CA): they last a year and nothing renews them unless someone runs `kubeadm certs renew` or an
# upgrade (kubeadm#2652), so reconcile watches them here, on the command it runs anyway, with whether a
# static pod still runs from before the last renewal (restartPending, lib/static-pods.sh).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/etcd.sh"
# shellcheck source=lib/static-pods.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/static-pods.sh"

# certificates_json: the earliest expiry among this node's kubeadm-managed leaf certificates (including
# those embedded in admin.conf, controller-manager.conf, scheduler.conf) and among its CAs, as
# {"leaf": {"name", "expiresAt"}, "ca": {"name", "expiresAt"}}; fails when kubeadm cannot tell.
# `kubeadm certs check-expiration -o json` prints output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo
# (since v1.30, kubernetes/kubernetes#123372; cmd/kubeadm/app/cmd/certs.go newCmdCertsExpiration, apis/output/v1alpha3/types.go:
# certificates[] and certificateAuthorities[] with name, expirationDate in RFC 3339 UTC, missing); it reads
# the files only, so it answers with the API down, and with a structured output it prints the JSON alone
# (util/output/output.go: ResourcePrinterWrapper.Printf is a no-op). A certificate this node never had is `missing` with no
# date (super-admin.conf exists only where init ran) and is left out. RFC 3339 UTC dates sort as text.
certificates_json() {
  local info
  info="$(kubeadm certs check-expiration -o json 2>/dev/null)" || return 1
  jq -c 'def earliest: [.[] | select((.missing | not) and .expirationDate != null)]
           | if length == 0 then null else (min_by(.expirationDate) | {name, expiresAt: .expirationDate}) end;
         {leaf: (.certificates | earliest), ca: (.certificateAuthorities | earliest)}' <<<"${info}"
}

# certificates_report: sets CERTIFICATES to certificates_json with restartPending, or null when kubeadm
# cannot tell (a global, not stdout, so that its notes reach the log).
certificates_report() {
  local pending stale
  if ! CERTIFICATES="$(certificates_json)"; then
    log "kubeadm certs check-expiration did not answer; reporting no certificate expiry"
    CERTIFICATES=null
    return 0
  fi
  # restartPending: a static pod started before the newest renewed certificate file holds an old client
  # certificate until it restarts (a renewal that died between `kubeadm certs renew all` and the restart);
  # null when crictl cannot tell.
  if stale="$(containers_before_renewal 2>/dev/null)"; then
    pending=false
    [[ -n "${stale}" ]] && pending=true
  else
    log "crictl could not tell when the static pods started; reporting restartPending null"
    pending=null
  fi
  CERTIFICATES="$(jq -c --argjson pending "${pending}" '. + {restartPending: $pending}' <<<"${CERTIFICATES}")"
}

main() {
  local scope="${KUBEHA_STATUS_SCOPE:-full}"
  [[ "${scope}" =~ ^(full|certificates)$ ]] || fail "KUBEHA_STATUS_SCOPE must be full or certificates"
  local certificates
  certificates_report
  certificates="${CERTIFICATES}"
  if [[ "${scope}" == certificates ]]; then
    # Only this master's certificates: the members and Nodes (thousands of them on a big cluster) are asked
    # of one master only (reconcile).
    result "$(jq -cn --argjson certificates "${certificates}" '{certificates: $certificates}')"
    return 0
  fi

  local members_json
  members_json="$(etcd_members_json)"

  local nodes_json="[]"
  if nodes="$(KUBECONFIG="${ADMIN_KUBECONFIG}" kubectl get nodes -o json 2>/dev/null)"; then
    nodes_json="$(nodes_json <<<"${nodes}")"
  else
    log "kube-apiserver did not answer; reporting etcd only"
  fi
  log "$(jq 'length' <<<"${members_json}") etcd members, $(jq 'length' <<<"${nodes_json}") nodes"
  result "$(jq -cn --argjson members "${members_json}" --argjson nodes "${nodes_json}" --argjson certificates "${certificates}" '{members: $members, nodes: $nodes, certificates: $certificates}')"
}

main "$@"
