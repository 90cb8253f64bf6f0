#!/usr/bin/env bash
# Applies this node's profile before it joins: GlusterFS client mounts, persisted in /etc/fstab and
# mounted now, so the node is never Ready without its volumes.
#
# - fstab: one block between kubeha's markers, one line per volume, as the GlusterFS docs give it
#   ("HOSTNAME-OR-IPADDRESS:/VOLNAME MOUNTDIR glusterfs defaults,_netdev 0 0", Gluster admin guide,
#   "Setting up GlusterFS Client: Automatically Mounting Volumes"). The other servers of a volume go into
#   `backup-volfile-servers=S2:S3` (mount.glusterfs(8), glusterfs-client 10.x): the first server is
#   only asked for the volume file, and a backup answers when it is down. `_netdev` orders the mount
#   after the network (systemd.mount(5): network mounts wait for network-online.target).
#   No `x-systemd.automount` and no `nofail`: an automount is mounted at first access (the node would
#   be Ready before any volume is there) and `nofail` hides a volume that did not mount.
# - kubelet drop-in: `RequiresMountsFor=` the mount points (systemd.unit(5): adds Requires= and After=
#   on the mount units), so after a reboot kubelet starts only once every volume is mounted.
# - now: `mount MOUNTPOINT` for each volume not mounted yet, the way boot would do it from fstab. A
#   volume mounted from another source, or an unmounted mount point that holds files (mounting would
#   hide them), fails the step naming it; a mount that fails names the volume, its servers and why.
# Idempotent: an unchanged profile rewrites nothing and mounts nothing. A volume dropped from the
# profile leaves fstab; it stays mounted until the node reboots or someone unmounts it (pods may use it).
#
# Environment: KUBEHA_MOUNTS: `none`, or `SERVER+BACKUP…:VOLUME:MOUNTPOINT:OPTION+OPTION…` entries joined
# with `,` (functions/core/node-profile.ts mountsParameter).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

FSTAB="${KUBEHA_ROOT}/etc/fstab"
DROP_IN="${KUBEHA_ROOT}/etc/systemd/system/kubelet.service.d/20-kubeha-mounts.conf"
BEGIN_MARK="# BEGIN kubeha node profile (managed by kubeha: edits here are replaced)"
END_MARK="# END kubeha node profile"

require_match KUBEHA_MOUNTS '^(none|[A-Za-z0-9.+-]+:[A-Za-z0-9_-]+:/[A-Za-z0-9._/-]+:[A-Za-z0-9_=./+-]*(,[A-Za-z0-9.+-]+:[A-Za-z0-9_-]+:/[A-Za-z0-9._/-]+:[A-Za-z0-9_=./+-]*)*)$' \
  "none or SERVERS:VOLUME:MOUNTPOINT:OPTIONS entries joined with commas"

declare -a SOURCES=() POINTS=() OPTIONS=() SERVERS=()

# parse_mounts: fills SOURCES (server:/volume), POINTS, OPTIONS (fstab field 4) and SERVERS (for messages) from KUBEHA_MOUNTS.
parse_mounts() {
  [[ "${KUBEHA_MOUNTS}" == none ]] && return 0
  local entry servers volume point extra primary backups options
  local -a entries
  IFS=',' read -r -a entries <<<"${KUBEHA_MOUNTS}"
  for entry in "${entries[@]}"; do
    IFS=':' read -r servers volume point extra <<<"${entry}"
    [[ "${point}" != *..* ]] || fail "mount point ${point} must not contain .."
    primary="${servers%%+*}"
    options="defaults,_netdev"
    if [[ "${servers}" == *+* ]]; then
      backups="${servers#*+}"
      options+=",backup-volfile-servers=${backups//+/:}"
    fi
    [[ -n "${extra}" ]] && options+=",${extra//+/,}"
    SERVERS+=("${servers//+/, }")
    SOURCES+=("${primary}:/${volume}")
    POINTS+=("${point}")
    OPTIONS+=("${options}")
  done
}

# desired_block: the fstab block this profile wants (empty without mounts).
desired_block() {
  ((${#POINTS[@]} > 0)) || return 0
  local i
  printf '%s\n' "${BEGIN_MARK}"
  for i in "${!POINTS[@]}"; do
    printf '%s %s glusterfs %s 0 0\n' "${SOURCES[i]}" "${POINTS[i]}" "${OPTIONS[i]}"
  done
  printf '%s\n' "${END_MARK}"
}

# current_block: kubeha's block as fstab holds it now (empty if absent).
current_block() {
  [[ -f "${FSTAB}" ]] || return 0
  awk -v begin="${BEGIN_MARK}" -v end="${END_MARK}" '$0 == begin {inside = 1} inside {print} $0 == end {inside = 0}' "${FSTAB}"
}

# check_foreign_entries: no line outside kubeha's block may mount onto one of the profile's points.
check_foreign_entries() {
  [[ -f "${FSTAB}" ]] || return 0
  local point owner
  for point in "${POINTS[@]}"; do
    owner="$(awk -v begin="${BEGIN_MARK}" -v end="${END_MARK}" -v point="${point}" \
      '$0 == begin {inside = 1} !inside && $1 !~ /^#/ && $2 == point {print $1} $0 == end {inside = 0}' "${FSTAB}")"
    [[ -z "${owner}" ]] || fail "/etc/fstab already mounts ${owner} on ${point} outside kubeha's block: remove that line or choose another mount point"
  done
}

# write_fstab BLOCK: fstab without kubeha's old block, plus BLOCK; written beside it and renamed into place.
write_fstab() {
  local block="$1" candidate
  mkdir -p "$(dirname "${FSTAB}")"
  candidate="$(mktemp "${FSTAB}.kubeha.XXXXXX")"
  if [[ -f "${FSTAB}" ]]; then
    awk -v begin="${BEGIN_MARK}" -v end="${END_MARK}" '$0 == begin {inside = 1} !inside {print} $0 == end {inside = 0}' "${FSTAB}" >"${candidate}"
  fi
  [[ -n "${block}" ]] && printf '%s\n' "${block}" >>"${candidate}"
  chmod 0644 "${candidate}"
  mv -f "${candidate}" "${FSTAB}"
}

# desired_drop_in: the kubelet drop-in that waits for every mount point (empty without mounts).
desired_drop_in() {
  ((${#POINTS[@]} > 0)) || return 0
  printf '# kubeha node profile: kubelet starts only once these volumes are mounted.\n[Unit]\nRequiresMountsFor=%s\n' "${POINTS[*]}"
}

# ensure_client: mount.glusterfs comes with Ubuntu's glusterfs-client package.
ensure_client() {
  command -v mount.glusterfs >/dev/null 2>&1 && return 0
  log "installing glusterfs-client"
  run_logged apt-install-glusterfs apt-get -o DPkg::Lock::Timeout=600 install -y glusterfs-client ||
    fail "could not install glusterfs-client (mount.glusterfs)"
  command -v mount.glusterfs >/dev/null 2>&1 || fail "glusterfs-client is installed but mount.glusterfs is missing"
}

# check_points: each mount point is free for its volume: mounted from that very source, or not mounted
# and empty (a mount would hide files). Runs before fstab changes, so a refused profile changes nothing.
check_points() {
  local i point source current
  for i in "${!POINTS[@]}"; do
    point="${POINTS[i]}"
    source="${SOURCES[i]}"
    if current="$(findmnt -n -o SOURCE --mountpoint "${point}" 2>/dev/null)" && [[ -n "${current}" ]]; then
      [[ "${current}" == "${source}" ]] || fail "${point} is mounted from ${current}, but the profile mounts ${source} there: unmount it first"
    elif [[ -d "${KUBEHA_ROOT}${point}" && -n "$(ls -A "${KUBEHA_ROOT}${point}")" ]]; then
      fail "${point} holds files and nothing is mounted there: mounting ${source} would hide them; move them away first"
    fi
  done
}

# mount_one INDEX: mounts POINTS[INDEX] from fstab, as boot would, unless it is mounted already.
# Prints "mounted" or "present".
mount_one() {
  local i="$1" point output
  point="${POINTS[i]}"
  if findmnt -n -o SOURCE --mountpoint "${point}" >/dev/null 2>&1; then
    printf 'present\n'
    return 0
  fi
  mkdir -p "${KUBEHA_ROOT}${point}"
  if ! output="$(mount "${point}" 2>&1)"; then
    fail "mounting GlusterFS volume ${SOURCES[i]#*:/} from ${SERVERS[i]} on ${point} failed: $(tail -n 3 <<<"${output}" | tr '\n' ' ' | sed -E 's/ +$//')"
  fi
  printf 'mounted\n'
}

# json_list VALUE...: a JSON array of strings.
json_list() {
  if (($# == 0)); then printf '[]\n'; else printf '%s\n' "$@" | jq -R . | jq -cs .; fi
}

main() {
  parse_mounts
  check_foreign_entries
  check_points
  local block current changed=false reloaded=false
  block="$(desired_block)"
  current="$(current_block)"
  if [[ "${block}" != "${current}" ]]; then
    write_fstab "${block}"
    changed=true
    log "wrote ${#POINTS[@]} GlusterFS mounts to /etc/fstab"
  fi
  local drop_in
  drop_in="$(desired_drop_in)"
  if [[ -z "${drop_in}" && -f "${DROP_IN}" ]]; then
    rm -f "${DROP_IN}"
    changed=true
  elif [[ -n "${drop_in}" && "$(cat "${DROP_IN}" 2>/dev/null || true)" != "${drop_in}" ]]; then
    mkdir -p "$(dirname "${DROP_IN}")"
    printf '%s\n' "${drop_in}" >"${DROP_IN}"
    changed=true
  fi
  # systemd turns fstab into mount units (systemd-fstab-generator): a changed fstab needs a reload.
  if [[ "${changed}" == true ]]; then
    systemctl daemon-reload
    reloaded=true
  fi
  local -a mounted=() present=()
  if ((${#POINTS[@]} > 0)); then
    ensure_client
    local i outcome
    for i in "${!POINTS[@]}"; do
      outcome="$(mount_one "${i}")"
      if [[ "${outcome}" == mounted ]]; then
        mounted+=("${POINTS[i]}")
        log "mounted ${SOURCES[i]} on ${POINTS[i]}"
      else
        present+=("${POINTS[i]}")
      fi
    done
  fi
  if [[ "${changed}" == false && ${#mounted[@]} -eq 0 ]]; then
    log "node profile already applied (${#POINTS[@]} mounts), nothing to do"
  fi
  result "$(jq -cn --argjson changed "${changed}" --argjson reloaded "${reloaded}" \
    --argjson mounted "$(json_list "${mounted[@]}")" --argjson present "$(json_list "${present[@]}")" \
    '{changed: $changed, systemdReloaded: $reloaded, mounted: $mounted, alreadyMounted: $present}')"
}

main "$@"
