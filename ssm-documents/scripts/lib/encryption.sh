# shellcheck shell=bash
# The API server's EncryptionConfiguration on a master, rendered from the master-only encryption secret
# (`{"keys":[{"name","secret"}]}`, provider order). One secretbox provider holds every key: the first
# encrypts, all of them decrypt; identity comes last so data written before encryption stays readable.
# The key values go from `aws` into a shell variable and from there into the 0600 file only: never an
# argument, never the output. The API server mounts the directory, not the file, so the file can be
# replaced atomically (a file bind mount would keep showing the replaced inode).

# shellcheck disable=SC2034 # used by the scripts that source this file
ENCRYPTION_DIR="${KUBEHA_ROOT}/etc/kubernetes/encryption"
ENCRYPTION_CONFIG="${ENCRYPTION_DIR}/config.yaml"
# Where the API server reads it (the same path on the host and in the pod).
ENCRYPTION_CONFIG_PATH="/etc/kubernetes/encryption/config.yaml"

# render_encryption_config: stdin the secret's JSON, stdout the EncryptionConfiguration. Fails on an
# empty or malformed key list, without echoing it.
render_encryption_config() {
  jq -r '
    def valid: (.name | type == "string" and test("^key-[a-z0-9-]{1,40}$")) and (.secret | type == "string" and test("^[A-Za-z0-9+/]{43}=$"));
    if (.keys | type) != "array" or (.keys | length) == 0 or any(.keys[]; valid | not) then error("invalid") else . end
    | "apiVersion: apiserver.config.k8s.io/v1",
      "kind: EncryptionConfiguration",
      "resources:",
      "  - resources:",
      "      - secrets",
      "    providers:",
      "      - secretbox:",
      "          keys:",
      (.keys[] | "            - name: \(.name)\n              secret: \"\(.secret)\""),
      "      - identity: {}"
  ' 2>/dev/null
}

# write_encryption_config [VERSION_ID]: writes ENCRYPTION_CONFIG (0600 in a 0700 directory) from the
# encryption secret (AWSCURRENT, or that version) and sets ENCRYPTION_CONFIG_CHANGED to true or false.
write_encryption_config() {
  require_env KUBEHA_ENCRYPTION_SECRET_ID KUBEHA_REGION
  local version="${1:-}" keys staged
  local -a version_flag=()
  [[ -n "${version}" ]] && version_flag=(--version-id "${version}")
  keys="$(aws secretsmanager get-secret-value --region "${KUBEHA_REGION}" --secret-id "${KUBEHA_ENCRYPTION_SECRET_ID}" \
    "${version_flag[@]}" --query SecretString --output text)" || fail "could not read the encryption secret (only the master instance profile may)"
  mkdir -p "${ENCRYPTION_DIR}"
  chmod 0700 "${ENCRYPTION_DIR}"
  staged="$(umask 077 && mktemp "${ENCRYPTION_DIR}/.config.XXXXXX")"
  if ! render_encryption_config <<<"${keys}" >"${staged}"; then
    rm -f "${staged}"
    fail 'the encryption secret holds no valid key list (expected {"keys":[{"name":"key-...","secret":"<base64 of 32 bytes>"}])'
  fi
  chmod 0600 "${staged}"
  if cmp -s "${staged}" "${ENCRYPTION_CONFIG}"; then
    rm -f "${staged}"
    # shellcheck disable=SC2034 # a result for the caller (apply-encryption-config.sh reads it)
    ENCRYPTION_CONFIG_CHANGED=false
  else
    mv -f "${staged}" "${ENCRYPTION_CONFIG}"
    # shellcheck disable=SC2034 # a result for the caller (apply-encryption-config.sh reads it)
    ENCRYPTION_CONFIG_CHANGED=true
  fi
}

# encryption_cluster_configuration: the apiServer lines of kubeadm's ClusterConfiguration (v1beta4, whose
# extraArgs is a list of name/value pairs) that make every API server kubeadm renders read the config.
# kubeadm stores the ClusterConfiguration in kube-system/kubeadm-config, and `kubeadm join --control-plane`
# renders its static pods from that stored copy (cmd/kubeadm/app/cmd/join.go InitCfg ->
# fetchInitConfigurationFromJoinConfiguration; phases/join/controlplaneprepare.go
# runControlPlanePrepareControlPlaneSubphase -> controlplane.CreateStaticPodFiles(&cfg.ClusterConfiguration)),
# so joining masters get the same flag and volume; they only need the file on disk first.
encryption_cluster_configuration() {
  cat <<EOF
  extraArgs:
    - name: encryption-provider-config
      value: ${ENCRYPTION_CONFIG_PATH}
  extraVolumes:
    - name: kubeha-encryption
      hostPath: /etc/kubernetes/encryption
      mountPath: /etc/kubernetes/encryption
      readOnly: true
      pathType: DirectoryOrCreate
EOF
}
