#!/usr/bin/env bash
# Takes a person's access away as far as Kubernetes allows: deletes the user's ClusterRoleBinding (so
# the API authorizes nothing for the user kubeha bound) and the secret holding the kubeconfig, without
# a recovery window (a revoked credential should not wait 7 days to vanish, and the name must be free
# for a later grant). Kubernetes has no revocation of client certificates: the certificate itself stays
# valid until it expires, and any other binding to the user or to its group still applies.
# Idempotent: a binding or secret already gone is not an error.
#
# Environment: KUBEHA_USER_NAME, KUBEHA_USER_SECRET_ID, KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

require_match KUBEHA_USER_NAME '^[a-z][a-z0-9.@_-]{0,62}[a-z0-9]$' "a user name (lowercase letters, digits, . @ _ -)"
require_match KUBEHA_USER_SECRET_ID '^kubeha/[a-z0-9-]+/[a-z0-9-]+/users/[a-z][a-z0-9.@_-]{0,62}[a-z0-9]$' "kubeha/<stage>/<cluster>/users/<user>"
require_env KUBEHA_REGION

BINDING="kubeha-access.${KUBEHA_USER_NAME}"

main() {
  api_ready "${ADMIN_KUBECONFIG}" || fail "the API does not answer through ${ADMIN_KUBECONFIG}: is this a joined master?"
  local binding_deleted=false secret_deleted=false
  if kube "${ADMIN_KUBECONFIG}" get clusterrolebinding "${BINDING}" >/dev/null; then
    kube "${ADMIN_KUBECONFIG}" delete clusterrolebinding "${BINDING}" >/dev/null || fail "could not delete ClusterRoleBinding ${BINDING}"
    binding_deleted=true
    log "deleted ClusterRoleBinding ${BINDING}"
  fi
  if aws secretsmanager describe-secret --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_USER_SECRET_ID}" >/dev/null 2>&1; then
    aws secretsmanager delete-secret --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_USER_SECRET_ID}" \
      --force-delete-without-recovery >/dev/null || fail "could not delete the secret ${KUBEHA_USER_SECRET_ID}"
    secret_deleted=true
    log "deleted secret ${KUBEHA_USER_SECRET_ID}"
  fi
  [[ "${binding_deleted}" == true || "${secret_deleted}" == true ]] || log "${KUBEHA_USER_NAME} had no binding and no secret, nothing to do"
  result "$(jq -cn --arg user "${KUBEHA_USER_NAME}" --argjson binding "${binding_deleted}" --argjson secret "${secret_deleted}" \
    '{user: $user, bindingDeleted: $binding, secretDeleted: $secret}')"
}

main "$@"
