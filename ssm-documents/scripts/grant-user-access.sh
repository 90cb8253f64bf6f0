#!/usr/bin/env bash
# Gives a person access to the cluster with a client certificate: kubeadm's `kubeconfig user` phase
# (cmd/kubeadm/app/cmd/kubeconfig.go: `--client-name` becomes the certificate's CN, `--org` its O,
# `--validity-period` an offset from now; `--config` names the cluster's configuration, here the
# ClusterConfiguration kubeadm stored in kube-system/kubeadm-config, so the kubeconfig points at the
# load balancers' endpoint) signs it with the cluster CA on this master; a ClusterRoleBinding binds the
# user to the named ClusterRole; the kubeconfig goes from a root-only file straight into the user's
# secret in Secrets Manager. It is never printed, logged or passed as an argument: the AWS CLI reads it
# from the file (`file://`). Running again renews the certificate (a new secret version).
#
# Environment: KUBEHA_USER_NAME, KUBEHA_USER_GROUP, KUBEHA_CLUSTER_ROLE, KUBEHA_VALIDITY_HOURS,
# KUBEHA_USER_SECRET_ID, KUBEHA_CLUSTER_NAME, KUBEHA_REGION.
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

require_match KUBEHA_USER_NAME '^[a-z][a-z0-9.@_-]{0,62}[a-z0-9]$' "a user name (lowercase letters, digits, . @ _ -)"
require_match KUBEHA_USER_GROUP '^[a-z][a-z0-9._-]{0,62}[a-z0-9]$' "a group name (lowercase letters, digits, . _ -; never system:*)"
require_match KUBEHA_CLUSTER_ROLE '^[a-z][a-z0-9.:-]{0,62}[a-z0-9]$' "a ClusterRole name"
require_match KUBEHA_VALIDITY_HOURS '^[0-9]{1,4}$' "a number of hours"
require_match KUBEHA_USER_SECRET_ID '^kubeha/[a-z0-9-]+/[a-z0-9-]+/users/[a-z][a-z0-9.@_-]{0,62}[a-z0-9]$' "kubeha/<stage>/<cluster>/users/<user>"
require_match KUBEHA_CLUSTER_NAME '^[a-z][a-z0-9-]{1,30}[a-z0-9]$' "a cluster name"
require_env KUBEHA_REGION
((KUBEHA_VALIDITY_HOURS >= 1)) || fail "KUBEHA_VALIDITY_HOURS must be at least 1"

BINDING="kubeha-access.${KUBEHA_USER_NAME}"
WORK=""

# bind_user: the ClusterRoleBinding of this user to the ClusterRole, created or updated.
bind_user() {
  kube "${ADMIN_KUBECONFIG}" get clusterrole "${KUBEHA_CLUSTER_ROLE}" >/dev/null ||
    fail "ClusterRole ${KUBEHA_CLUSTER_ROLE} does not exist in ${KUBEHA_CLUSTER_NAME}: create it first, or choose another with --cluster-role"
  # A binding's roleRef cannot change (the API refuses the update): a new role means a new binding.
  local bound
  bound="$(kube "${ADMIN_KUBECONFIG}" get clusterrolebinding "${BINDING}" -o jsonpath='{.roleRef.name}' || true)"
  if [[ -n "${bound}" && "${bound}" != "${KUBEHA_CLUSTER_ROLE}" ]]; then
    kube "${ADMIN_KUBECONFIG}" delete clusterrolebinding "${BINDING}" >/dev/null || fail "could not replace the binding of ${KUBEHA_USER_NAME} to ${bound}"
  fi
  kube "${ADMIN_KUBECONFIG}" apply -f - >/dev/null <<YAML || fail "could not bind ${KUBEHA_USER_NAME} to ClusterRole ${KUBEHA_CLUSTER_ROLE}"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: "${BINDING}"
  labels:
    app.kubernetes.io/managed-by: kubeha
  annotations:
    kubeha.io/group: "${KUBEHA_USER_GROUP}"
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: "${KUBEHA_CLUSTER_ROLE}"
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: "${KUBEHA_USER_NAME}"
YAML
}

# write_user_kubeconfig WORKDIR: the user's kubeconfig in WORKDIR/user.conf (root only).
write_user_kubeconfig() {
  local work="$1"
  kube "${ADMIN_KUBECONFIG}" -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' >"${work}/cluster.yaml" ||
    fail "could not read kube-system/kubeadm-config: is this an initialized control-plane node?"
  [[ -s "${work}/cluster.yaml" ]] || fail "kube-system/kubeadm-config holds no ClusterConfiguration"
  # Standard output is the kubeconfig, credentials included: into the private file, never a log.
  if ! kubeadm kubeconfig user --config "${work}/cluster.yaml" --client-name "${KUBEHA_USER_NAME}" \
    --org "${KUBEHA_USER_GROUP}" --validity-period "${KUBEHA_VALIDITY_HOURS}h" >"${work}/user.conf" 2>"${work}/kubeadm.err"; then
    fail "kubeadm kubeconfig user failed: $(tail -n 3 "${work}/kubeadm.err" | mask | tr '\n' ' ')"
  fi
  grep -q 'client-certificate-data' "${work}/user.conf" || fail "kubeadm kubeconfig user wrote no client certificate"
}

# certificate_expiry FILE: the notAfter of the kubeconfig's client certificate, as an ISO 8601 time.
certificate_expiry() {
  local data
  data="$(awk '/client-certificate-data:/ {print $2; exit}' "$1")"
  date -u -d "$(base64 -d <<<"${data}" | openssl x509 -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ
}

# store_secret FILE EXPIRES: FILE becomes the current value of the user's secret, created if absent.
store_secret() {
  local file="$1" expires="$2"
  local -a tags=(
    "Key=kubernetes.io/cluster/${KUBEHA_CLUSTER_NAME},Value=owned"
    "Key=kubeha:user,Value=${KUBEHA_USER_NAME}"
    "Key=kubeha:group,Value=${KUBEHA_USER_GROUP}"
    "Key=kubeha:cluster-role,Value=${KUBEHA_CLUSTER_ROLE}"
    "Key=kubeha:expires,Value=${expires}"
  )
  if aws secretsmanager describe-secret --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_USER_SECRET_ID}" >/dev/null 2>&1; then
    aws secretsmanager put-secret-value --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_USER_SECRET_ID}" \
      --secret-string "file://${file}" >/dev/null || fail "could not store the kubeconfig in ${KUBEHA_USER_SECRET_ID}"
    aws secretsmanager tag-resource --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_USER_SECRET_ID}" --tags "${tags[@]}" >/dev/null ||
      fail "could not tag ${KUBEHA_USER_SECRET_ID}"
  else
    aws secretsmanager create-secret --region "${KUBEHA_REGION}" --name "${KUBEHA_USER_SECRET_ID}" \
      --description "kubeconfig of ${KUBEHA_USER_NAME} for ${KUBEHA_CLUSTER_NAME} (kubeha access grant)" \
      --secret-string "file://${file}" --tags "${tags[@]}" >/dev/null || fail "could not create the secret ${KUBEHA_USER_SECRET_ID}"
  fi
}

main() {
  api_ready "${ADMIN_KUBECONFIG}" || fail "the API does not answer through ${ADMIN_KUBECONFIG}: is this a joined master?"
  local expires
  # Global: the EXIT trap runs after main has returned, when its locals are gone.
  WORK="$(private_workdir)"
  trap 'rm -rf "${WORK}"' EXIT
  bind_user
  write_user_kubeconfig "${WORK}"
  expires="$(certificate_expiry "${WORK}/user.conf")" || fail "could not read the expiry of the new certificate"
  store_secret "${WORK}/user.conf" "${expires}"
  log "granted ${KUBEHA_USER_NAME} (group ${KUBEHA_USER_GROUP}) ClusterRole ${KUBEHA_CLUSTER_ROLE} until ${expires}; kubeconfig in ${KUBEHA_USER_SECRET_ID}"
  result "$(jq -cn --arg user "${KUBEHA_USER_NAME}" --arg group "${KUBEHA_USER_GROUP}" --arg role "${KUBEHA_CLUSTER_ROLE}" \
    --arg binding "${BINDING}" --arg secret "${KUBEHA_USER_SECRET_ID}" --arg expires "${expires}" \
    '{user: $user, group: $group, clusterRole: $role, binding: $binding, secretName: $secret, expiresAt: $expires}')"
}

main "$@"
