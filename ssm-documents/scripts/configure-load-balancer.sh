#!/usr/bin/env bash
# Configures one load balancer of the pair: nginx stream proxying the API port to every master, and
# keepalived in unicast mode whose notify script claims the Elastic IP when this node becomes MASTER and,
# every 10 s while it is MASTER, claims it again if it finds it elsewhere (a healed VRRP partition leaves
# the address on the node that stepped down, and no transition runs notify_master again). systemd restarts
# a crashed nginx in place (Debian's unit has no Restart=) faster than keepalived's check gives up on it, so a
# crash moves nothing; keepalived's check asks nginx itself for an answer, which a hung nginx never gives (a
# bare connect would still succeed from the listen backlog). Detection budget (issue 14): a dead or hung load
# balancer is noticed within 1.5 s, measured by bench/load-balancer.ts with keepalived 2.2.7 and nginx 1.22.
# The first address in KUBEHA_LOAD_BALANCER_ADDRESSES is the primary (higher priority). A candidate
# nginx config must pass `nginx -t` before it replaces the live one; an unchanged config is left alone.
#
# Environment: KUBEHA_CLUSTER_NAME, KUBEHA_MASTER_ADDRESSES (comma list), KUBEHA_LOAD_BALANCER_ADDRESSES
# (comma list), KUBEHA_LISTEN_PORT, KUBEHA_EIP_ALLOCATION_ID, KUBEHA_REGION.
# Optional: KUBEHA_SELF_IP, KUBEHA_INTERFACE (discovered from IMDS and the default route otherwise),
# KUBEHA_APISERVER_PORT (6443), KUBEHA_HEALTH_PORT (16443, nginx's own health answer on 127.0.0.1).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NGINX_CONF="${KUBEHA_ROOT}/etc/nginx/nginx.conf"
KEEPALIVED_DIR="${KUBEHA_ROOT}/etc/keepalived"
NGINX_DROP_IN="${KUBEHA_ROOT}/etc/systemd/system/nginx.service.d/kubeha-restart.conf"
# keepalived's last state for this node, written by the notify script (tmpfs: gone after a reboot).
VRRP_STATE_FILE="${KUBEHA_ROOT}/run/kubeha/vrrp-state"
# keepalived's virtual address (VRRPv3 requires one): a marker of "MASTER now" on the loopback, see render_keepalived_conf.
MASTER_MARKER="192.0.2.1/32"
# The health check's streaks of unanswered and refused questions, carried from one run to the next.
CHECK_STATE_FILE="${KUBEHA_ROOT}/run/kubeha/nginx-check"

# render_nginx_conf MASTERS_CSV LISTEN_PORT APISERVER_PORT: the whole nginx.conf on stdout.
# Watches on kube-apiserver last 30 minutes or more, so proxy_timeout must be longer than that;
# a dead master is skipped after a failed connect (passive checks, the only kind open-source nginx has).
render_nginx_conf() {
  local masters_csv="$1" listen_port="$2" apiserver_port="$3" health_port="$4" address
  local -a masters
  IFS=',' read -r -a masters <<<"${masters_csv}"
  cat <<EOF
# Managed by kubeha for cluster ${KUBEHA_CLUSTER_NAME}: changes here are overwritten.
user www-data;
worker_processes auto;
# Every proxied watch is two connections and two descriptors. Without this, workers keep the service's
# soft limit (1024 under systemd) and run out at about 500 watches each, whatever worker_connections says.
worker_rlimit_nofile 8192;
pid ${KUBEHA_ROOT}/run/nginx.pid;
error_log ${KUBEHA_ROOT}/var/log/nginx/error.log warn;
include ${KUBEHA_ROOT}/etc/nginx/modules-enabled/*.conf;

events {
    worker_connections 4096;
}

stream {
    log_format kubeha '\$remote_addr [\$time_local] \$status \$bytes_sent \$bytes_received \$session_time "\$upstream_addr"';
    access_log ${KUBEHA_ROOT}/var/log/nginx/kube-apiserver.log kubeha;

    upstream kube_apiserver {
        least_conn;
EOF
  for address in "${masters[@]}"; do
    printf '        server %s:%s max_fails=2 fail_timeout=10s;\n' "${address}" "${apiserver_port}"
  done
  cat <<EOF
    }

    server {
        listen ${listen_port};
        proxy_pass kube_apiserver;
        proxy_connect_timeout 2s;
        proxy_timeout 45m;
        proxy_next_upstream on;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 6s;
    }

    # keepalived's check: nginx answers this itself, so a hung or stopped nginx fails it.
    server {
        listen 127.0.0.1:${health_port};
        return "ok\n";
    }
}
EOF
}

# render_keepalived_conf SELF_IP PEERS_CSV PRIORITY INTERFACE: keepalived.conf on stdout.
# Both nodes start as BACKUP with nopreempt, so a recovered primary does not take the address back
# (and move the Elastic IP) while the standby serves well: that is what keeps failover from flapping.
# Timers, from keepalived 2.2.7's source (Debian 12's version; acassen/keepalived at tag v2.2.7):
# - VRRPv3 takes advert_int in 10 ms units; VRRPv2 rounds it to whole seconds (vrrp/vrrp.c, "must be in
#   units of 10ms"). A BACKUP declares the MASTER dead after down_timer_adverts (3) advertisement intervals
#   plus a skew of (256 - priority) / 256 of one (include/vrrp.h, VRRP_MS_DOWN_TIMER): with 0.3 s, 1.02 s on
#   the primary (150) and 1.08 s on the standby (100), against 3.6 s with advert_int 1.
# - A MASTER that stops or fails its check sends a priority-0 advertisement; the BACKUP then waits only its
#   skew (vrrp/vrrp.c, "received priority 0 advertisement"), 0.12-0.18 s.
# - vrrp_script interval and timeout are whole seconds in 2.2.7 (vrrp/vrrp_parser.c reads them with
#   read_unsigned_strvec; fractions arrived in later releases), and the next run is timed from the start of
#   this one and skipped while it still runs (vrrp/vrrp_scheduler.c, vrrp_script_thread). So the check runs
#   every second and asks nginx three times per run itself, keeping its own streaks (fall 1): see
#   render_check_script. timeout 2 only bounds a run that would otherwise block (a full listen backlog).
# - VRRPv3 refuses an instance without a virtual address (vrrp/vrrp.c, "No VIP specified; at least one is
#   required"; VRRPv2 only warned). The Elastic IP is what moves, so the VIP is a marker: 192.0.2.1/32
#   (TEST-NET-1, RFC 5737, never routed) on the MASTER's loopback, where no ARP announces it to the VPC.
render_keepalived_conf() {
  local self_ip="$1" peers_csv="$2" priority="$3" interface="$4" peer
  local -a peers
  IFS=',' read -r -a peers <<<"${peers_csv}"
  local router_id
  router_id=$(($(printf '%s' "${KUBEHA_CLUSTER_NAME}" | cksum | cut -d' ' -f1) % 254 + 1))
  cat <<EOF
# Managed by kubeha for cluster ${KUBEHA_CLUSTER_NAME}: changes here are overwritten.
global_defs {
    router_id kubeha_${KUBEHA_CLUSTER_NAME//-/_}
    enable_script_security
    script_user root
    vrrp_version 3
}

vrrp_script kubeha_nginx_alive {
    script "${KEEPALIVED_DIR#"${KUBEHA_ROOT}"}/kubeha-check.sh"
    interval 1
    timeout 2
    fall 1
    rise 2
}

# Weight 0 and always successful: it never changes priorities, it only claims the Elastic IP again.
vrrp_script kubeha_claim_elastic_ip {
    script "${KEEPALIVED_DIR#"${KUBEHA_ROOT}"}/kubeha-notify.sh REASSERT"
    interval 10
    timeout 30
    weight 0
}

vrrp_instance kubeha_${KUBEHA_CLUSTER_NAME//-/_} {
    state BACKUP
    nopreempt
    interface ${interface}
    virtual_router_id ${router_id}
    priority ${priority}
    advert_int 0.3
    unicast_src_ip ${self_ip}
    virtual_ipaddress {
        ${MASTER_MARKER} dev lo
    }
    unicast_peer {
EOF
  for peer in "${peers[@]}"; do
    [[ -n "${peer}" ]] && printf '        %s\n' "${peer}"
  done
  cat <<EOF
    }
    track_script {
        kubeha_nginx_alive
        kubeha_claim_elastic_ip
    }
    notify_master "${KEEPALIVED_DIR#"${KUBEHA_ROOT}"}/kubeha-notify.sh MASTER"
    notify_backup "${KEEPALIVED_DIR#"${KUBEHA_ROOT}"}/kubeha-notify.sh BACKUP"
    notify_fault "${KEEPALIVED_DIR#"${KUBEHA_ROOT}"}/kubeha-notify.sh FAULT"
    notify_stop "${KEEPALIVED_DIR#"${KUBEHA_ROOT}"}/kubeha-notify.sh STOP"
}
EOF
}

# render_check_script HEALTH_PORT: keepalived runs it every second. It asks nginx's own health server (which
# answers from the same workers that proxy the API) three times, a third of a second apart, and fails when two
# questions in a row go unanswered for 0.25 s (a hung nginx: detected within about 0.9 s) or when connections
# are refused four times in a row, over a second (nginx gone: a crash that systemd repairs in place in a
# fraction of a second stays under that, so it moves nothing). One slow answer on a busy machine is no failure.
# Builtins only inside the loop (/dev/tcp, read -t, printf): no process per question but sleep.
render_check_script() {
  cat <<EOF
#!/usr/bin/env bash
# Managed by kubeha: keepalived's health check of the local nginx (see configure-load-balancer.sh).
set -o nounset -o pipefail
state_file='${CHECK_STATE_FILE}'
unanswered=0 refused=0
if [[ -r "\${state_file}" ]]; then read -r unanswered refused <"\${state_file}" || true; else mkdir -p "\${state_file%/*}"; fi
started=\${EPOCHREALTIME/./}
for offset in 0 333333 666666; do
  wait=\$((started + offset - \${EPOCHREALTIME/./}))
  if ((wait > 0)); then
    printf -v fraction '%06d' \$((wait % 1000000))
    sleep "\$((wait / 1000000)).\${fraction}"
  fi
  if { exec 3<>/dev/tcp/127.0.0.1/$1; } 2>/dev/null; then
    answer=''
    if IFS= read -r -t 0.25 answer <&3 && [[ "\${answer}" == ok ]]; then unanswered=0; else unanswered=\$((unanswered + 1)); fi
    refused=0
    exec 3<&-
  else
    refused=\$((refused + 1)) unanswered=0
  fi
  printf '%s %s\\n' "\${unanswered}" "\${refused}" >"\${state_file}"
  ((unanswered < 2 && refused < 4)) || exit 1
done
exit 0
EOF
}

# render_nginx_drop_in: systemd restarts a crashed nginx in place instead of leaving it to a failover.
# on-failure covers an unclean signal (SIGKILL, SIGSEGV) and a non-zero exit, not a clean stop (systemd.service,
# Restart=); KillMode=mixed in Debian's unit kills the orphaned workers, which hold the listening sockets, before
# the restart. RestartSec=100ms (systemd's default, written down) keeps nginx away for about 0.2 s with its
# nginx -t: well under the second of refusals keepalived's check tolerates. StartLimitBurst (5 in 10 s) still
# ends a crash loop, and then the check fails and the standby takes over.
render_nginx_drop_in() {
  printf '# Managed by kubeha.\n[Service]\nRestart=on-failure\nRestartSec=100ms\n'
}

# render_notify_script: keepalived calls it on every transition (MASTER, BACKUP, FAULT, STOP), which it
# records, and every 10 s with REASSERT. On MASTER, and on REASSERT while the last transition was to
# MASTER, the running keepalived holds the marker address, and the Elastic IP is elsewhere, it associates
# the address with this instance.
render_notify_script() {
  cat <<EOF
#!/usr/bin/env bash
# Managed by kubeha: keepalived calls this on state changes and every 10 s (REASSERT); MASTER claims the Elastic IP.
set -o errexit -o nounset -o pipefail
state_file='${VRRP_STATE_FILE}'
case "\${1:-}" in
  MASTER | BACKUP | FAULT | STOP)
    mkdir -p "\$(dirname "\${state_file}")"
    printf '%s\\n' "\$1" >"\${state_file}"
    [[ "\$1" == MASTER ]] || exit 0
    ;;
  REASSERT)
    [[ "\$(cat "\${state_file}" 2>/dev/null)" == MASTER ]] || exit 0
    # A keepalived that died as MASTER and started again runs this before its first transition rewrites the
    # file; the marker address is on lo only while the running keepalived is MASTER (it removes it at start).
    [[ -n "\$(ip -o -4 addr show dev lo to ${MASTER_MARKER} 2>/dev/null)" ]] || exit 0
    ;;
  *) exit 0 ;;
esac
token=\$(curl -fsS -m 2 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') || exit 0
instance_id=\$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: \${token}" http://169.254.169.254/latest/meta-data/instance-id) || exit 0
if [[ "\$1" == REASSERT ]]; then
  holder=\$(aws ec2 describe-addresses --region '${KUBEHA_REGION}' --allocation-ids '${KUBEHA_EIP_ALLOCATION_ID}' \\
    --query 'Addresses[0].InstanceId' --output text 2>/dev/null) || exit 0
  [[ "\${holder}" == "\${instance_id}" ]] && exit 0
  logger -t kubeha "Elastic IP '${KUBEHA_EIP_ALLOCATION_ID}' is on \${holder}, not on this MASTER; claiming it again"
fi
for attempt in 1 2 3 4 5; do
  if aws ec2 associate-address --region '${KUBEHA_REGION}' --allocation-id '${KUBEHA_EIP_ALLOCATION_ID}' \\
      --instance-id "\${instance_id}" --allow-reassociation >/dev/null; then
    logger -t kubeha "claimed Elastic IP '${KUBEHA_EIP_ALLOCATION_ID}' for \${instance_id}"
    exit 0
  fi
  sleep "\${attempt}"
done
logger -t kubeha "could not claim Elastic IP '${KUBEHA_EIP_ALLOCATION_ID}'"
# A failing REASSERT would put the VRRP instance in FAULT; the next round tries again.
[[ "\$1" == REASSERT ]] && exit 0
exit 1
EOF
}

default_interface() {
  if [[ -n "${KUBEHA_INTERFACE:-}" ]]; then
    printf '%s\n' "${KUBEHA_INTERFACE}"
  else
    ip -o route show default | awk '{ print $5; exit }'
  fi
}

main() {
  require_env KUBEHA_CLUSTER_NAME KUBEHA_MASTER_ADDRESSES KUBEHA_LOAD_BALANCER_ADDRESSES KUBEHA_LISTEN_PORT \
    KUBEHA_EIP_ALLOCATION_ID KUBEHA_REGION
  # These values end up in generated nginx, keepalived and shell files: hold them to their shapes.
  local ipv4='[0-9]{1,3}(\.[0-9]{1,3}){3}'
  require_match KUBEHA_CLUSTER_NAME '^[a-z][a-z0-9-]{1,30}[a-z0-9]$' "a kubeha cluster name"
  require_match KUBEHA_MASTER_ADDRESSES "^${ipv4}(,${ipv4}){0,6}\$" "a comma list of IPv4 addresses"
  require_match KUBEHA_LOAD_BALANCER_ADDRESSES "^${ipv4}(,${ipv4})?\$" "one or two IPv4 addresses"
  require_match KUBEHA_LISTEN_PORT '^[0-9]{4,5}$' "a port number"
  require_match KUBEHA_EIP_ALLOCATION_ID '^eipalloc-[0-9a-f]{8,17}$' "an Elastic IP allocation id"
  require_match KUBEHA_REGION '^[a-z]{2}(-[a-z]+)+-[0-9]$' "an AWS region"
  local self peers priority interface apiserver_port="${KUBEHA_APISERVER_PORT:-6443}" health_port="${KUBEHA_HEALTH_PORT:-16443}"
  require_match apiserver_port '^[0-9]{1,5}$' "a port number"
  require_match health_port '^[0-9]{1,5}$' "a port number"
  self="$(self_ip)"
  local -a balancers
  IFS=',' read -r -a balancers <<<"${KUBEHA_LOAD_BALANCER_ADDRESSES}"
  local member found=false
  peers=""
  for member in "${balancers[@]}"; do
    if [[ "${member}" == "${self}" ]]; then found=true; else peers="${peers:+${peers},}${member}"; fi
  done
  [[ "${found}" == true ]] || fail "this node (${self}) is not among KUBEHA_LOAD_BALANCER_ADDRESSES"
  if [[ "${balancers[0]}" == "${self}" ]]; then priority=150; else priority=100; fi
  interface="$(default_interface)"
  [[ -n "${interface}" ]] || fail "could not find the network interface of the default route"

  mkdir -p "$(dirname "${NGINX_CONF}")" "${KEEPALIVED_DIR}" "${KUBEHA_ROOT}/var/log/nginx" "${KUBEHA_ROOT}/run"
  local candidate="${NGINX_CONF}.kubeha-candidate" nginx_changed=false keepalived_changed=false
  render_nginx_conf "${KUBEHA_MASTER_ADDRESSES}" "${KUBEHA_LISTEN_PORT}" "${apiserver_port}" "${health_port}" >"${candidate}"
  if install_nginx_conf_if_valid "${candidate}" "${NGINX_CONF}" "nginx configuration"; then nginx_changed=true; fi

  render_keepalived_conf "${self}" "${peers}" "${priority}" "${interface}" >"${KEEPALIVED_DIR}/keepalived.conf.new"
  render_check_script "${health_port}" >"${KEEPALIVED_DIR}/kubeha-check.sh.new"
  render_notify_script >"${KEEPALIVED_DIR}/kubeha-notify.sh.new"
  if install_if_changed "${KEEPALIVED_DIR}/keepalived.conf.new" "${KEEPALIVED_DIR}/keepalived.conf" 0644; then keepalived_changed=true; fi
  if install_if_changed "${KEEPALIVED_DIR}/kubeha-check.sh.new" "${KEEPALIVED_DIR}/kubeha-check.sh" 0700; then keepalived_changed=true; fi
  if install_if_changed "${KEEPALIVED_DIR}/kubeha-notify.sh.new" "${KEEPALIVED_DIR}/kubeha-notify.sh" 0700; then keepalived_changed=true; fi

  mkdir -p "$(dirname "${NGINX_DROP_IN}")"
  render_nginx_drop_in >"${NGINX_DROP_IN}.new"
  if install_if_changed "${NGINX_DROP_IN}.new" "${NGINX_DROP_IN}" 0644; then systemctl daemon-reload; fi

  # A reload keeps established connections (long watches) on the old workers until they close.
  if ! systemctl is-active --quiet nginx; then
    systemctl enable --now nginx
  elif [[ "${nginx_changed}" == true ]]; then
    systemctl reload nginx
  fi
  if ! systemctl is-active --quiet keepalived; then
    systemctl enable --now keepalived
  elif [[ "${keepalived_changed}" == true ]]; then
    systemctl reload keepalived
  fi

  local changed=false role=standby
  [[ "${nginx_changed}" == true || "${keepalived_changed}" == true ]] && changed=true
  [[ "${priority}" == 150 ]] && role=primary
  if [[ "${changed}" == true ]]; then
    log "load balancer configured as ${role} for ${KUBEHA_MASTER_ADDRESSES}"
  else
    log "load balancer configuration unchanged, nothing to do"
  fi
  result "{\"changed\":${changed},\"role\":\"${role}\"}"
}

main "$@"
