# shellcheck shell=bash
# The node-local API proxy of a worker: nginx (stream) on 127.0.0.1:6443 forwarding to every master's
# kube-apiserver, as kubespray's nginx-proxy does (roles/kubernetes/node/templates/loadbalancer/nginx.conf.j2,
# installed only where no API server listens itself, roles/kubernetes/node/tasks/main.yml). The kubelet
# (and kube-proxy) on a worker talk to https://127.0.0.1:6443, so in-cluster traffic reaches a live master
# directly: it never waits for the load balancers' failover and never leaves through the NAT towards the
# Elastic IP. Masters run no proxy: their own kube-apiserver listens on 6443 (on all addresses), so
# 127.0.0.1:6443 already means "an API server" there, and one kube-proxy kubeconfig serves every node.
#
# It runs as its own systemd unit with its own nginx.conf, beside (not inside) the distribution's nginx
# service, which stays disabled on workers: a hostNetwork ingress controller may want port 80, and the
# proxy must run before the kubelet does (a static pod, as kubespray uses, needs a running kubelet and a
# pulled image; kubeadm join runs before either).
#
# Sourced by configure-node-proxy.sh and join-node.sh after lib/common.sh.

NODE_PROXY_DIR="${KUBEHA_ROOT}/etc/kubeha/apiserver-proxy"
NODE_PROXY_CONF="${NODE_PROXY_DIR}/nginx.conf"
NODE_PROXY_UNIT_NAME="kubeha-apiserver-proxy"
NODE_PROXY_UNIT="${KUBEHA_ROOT}/etc/systemd/system/${NODE_PROXY_UNIT_NAME}.service"
# The address clients on this node use: the kubelet's kubeconfig and kube-proxy's point here.
# shellcheck disable=SC2034 # used by the scripts that source this file
NODE_PROXY_SERVER="https://127.0.0.1:6443"
# Whether the last configure_node_proxy changed anything (read by the scripts that source this file).
# shellcheck disable=SC2034
NODE_PROXY_CHANGED=false

# render_node_proxy_conf MASTERS_CSV LISTEN_PORT APISERVER_PORT: the proxy's nginx.conf on stdout.
# A dead master costs one failed connect of 1 s (kubespray's proxy_connect_timeout), then nginx tries the
# next one; watches live 30 minutes or more on kube-apiserver (--min-request-timeout), so idle
# connections are kept longer than that.
render_node_proxy_conf() {
  local masters_csv="$1" listen_port="$2" apiserver_port="$3" address
  local -a masters
  IFS=',' read -r -a masters <<<"${masters_csv}"
  cat <<EOF
# Managed by kubeha: this node's proxy to every Kubernetes API server. Changes here are overwritten.
worker_processes 1;
# Each proxied watch holds two descriptors: the kubelet, kube-proxy and the CNI hold a few dozen.
worker_rlimit_nofile 8192;
pid ${KUBEHA_ROOT}/run/${NODE_PROXY_UNIT_NAME}.pid;
error_log stderr warn;
include ${KUBEHA_ROOT}/etc/nginx/modules-enabled/*stream*.conf;

events {
    worker_connections 4096;
}

stream {
    upstream kube_apiserver {
        least_conn;
EOF
  for address in "${masters[@]}"; do
    printf '        server %s:%s max_fails=1 fail_timeout=10s;\n' "${address}" "${apiserver_port}"
  done
  cat <<EOF
    }

    server {
        listen 127.0.0.1:${listen_port};
        proxy_pass kube_apiserver;
        proxy_connect_timeout 1s;
        proxy_timeout 45m;
        proxy_next_upstream on;
        proxy_next_upstream_tries ${#masters[@]};
        proxy_next_upstream_timeout 5s;
    }
}
EOF
}

# render_node_proxy_unit: the systemd unit; it restarts a crashed nginx within a second.
render_node_proxy_unit() {
  local conf="${NODE_PROXY_CONF#"${KUBEHA_ROOT}"}" pid="/run/${NODE_PROXY_UNIT_NAME}.pid"
  cat <<EOF
# Managed by kubeha.
[Unit]
Description=kubeha: this node's proxy to every Kubernetes API server
Wants=network-online.target
After=network-online.target
Before=kubelet.service

[Service]
Type=forking
PIDFile=${pid}
ExecStartPre=/usr/sbin/nginx -t -q -c ${conf}
ExecStart=/usr/sbin/nginx -c ${conf}
ExecReload=/usr/sbin/nginx -c ${conf} -s reload
ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile ${pid}
Restart=always
RestartSec=1s
LimitNOFILE=16384

[Install]
WantedBy=multi-user.target
EOF
}

# node_proxy_upstreams: the master addresses the live configuration forwards to, comma-separated.
node_proxy_upstreams() {
  [[ -f "${NODE_PROXY_CONF}" ]] || return 0
  sed -n -E 's/^ +server ([0-9.]+):[0-9]+ .*/\1/p' "${NODE_PROXY_CONF}" | paste -sd, -
}

# configure_node_proxy MASTERS_CSV: renders, checks with nginx -t and installs the proxy, starts it or
# reloads it (a reload keeps established watches on the old workers until they close). Sets
# NODE_PROXY_CHANGED to true or false. KUBEHA_NODE_PROXY_PORT and KUBEHA_APISERVER_PORT (both 6443)
# exist for tests.
# shellcheck disable=SC2034 # NODE_PROXY_CHANGED is read by the scripts that source this file
configure_node_proxy() {
  local masters_csv="$1" listen_port="${KUBEHA_NODE_PROXY_PORT:-6443}" apiserver_port="${KUBEHA_APISERVER_PORT:-6443}"
  local ipv4='[0-9]{1,3}(\.[0-9]{1,3}){3}'
  [[ "${masters_csv}" =~ ^${ipv4}(,${ipv4}){0,6}$ ]] || fail "the master addresses must be a comma list of IPv4 addresses, not '${masters_csv}'"
  [[ "${listen_port}" =~ ^[0-9]{1,5}$ && "${apiserver_port}" =~ ^[0-9]{1,5}$ ]] || fail "the proxy's ports must be port numbers"
  NODE_PROXY_CHANGED=false
  if ! command -v nginx >/dev/null 2>&1; then
    # A worker prepared before kubeha had the proxy: install it now (its prerequisites ran already).
    apt-get -o DPkg::Lock::Timeout=600 -y -q install nginx libnginx-mod-stream >/dev/null || fail "could not install nginx for the API proxy"
    systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  mkdir -p "${NODE_PROXY_DIR}" "$(dirname "${NODE_PROXY_UNIT}")" "${KUBEHA_ROOT}/run"
  local candidate="${NODE_PROXY_CONF}.kubeha-candidate" conf_changed=false
  render_node_proxy_conf "${masters_csv}" "${listen_port}" "${apiserver_port}" >"${candidate}"
  if install_nginx_conf_if_valid "${candidate}" "${NODE_PROXY_CONF}" "API proxy configuration"; then conf_changed=true; fi
  render_node_proxy_unit >"${NODE_PROXY_UNIT}.new"
  if install_if_changed "${NODE_PROXY_UNIT}.new" "${NODE_PROXY_UNIT}" 0644; then
    systemctl daemon-reload
    NODE_PROXY_CHANGED=true
  fi
  if ! systemctl is-active --quiet "${NODE_PROXY_UNIT_NAME}"; then
    systemctl enable --now "${NODE_PROXY_UNIT_NAME}"
    NODE_PROXY_CHANGED=true
  elif [[ "${conf_changed}" == true ]]; then
    systemctl reload "${NODE_PROXY_UNIT_NAME}"
  fi
  [[ "${conf_changed}" == true ]] && NODE_PROXY_CHANGED=true
  return 0
}

# point_kubelet_at_node_proxy: the kubelet's kubeconfig names the local proxy instead of the endpoint
# kubeadm join wrote (the cluster-info endpoint, which is the Elastic IP or its name); the kubelet is
# restarted to use it. kubespray does the same ("Update server field in kubelet kubeconfig",
# roles/kubernetes/kubeadm/tasks/main.yml). Prints "changed" when it changed something.
point_kubelet_at_node_proxy() {
  [[ -f "${KUBELET_KUBECONFIG}" ]] || return 0
  grep -qE "^ +server: ${NODE_PROXY_SERVER}\$" "${KUBELET_KUBECONFIG}" && return 0
  sed -i -E "s#^( +server: ).*#\\1${NODE_PROXY_SERVER}#" "${KUBELET_KUBECONFIG}"
  systemctl restart kubelet
  printf 'changed\n'
}
