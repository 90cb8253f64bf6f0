#!/usr/bin/env bash
# Deploys the drill's test application if it is absent: a two-replica Deployment spread over nodes
# behind a NodePort Service, so a probe can tell whether workloads stay reachable during a failure.
#
# Environment: KUBEHA_APP_PORT (the NodePort, 30000-32767).
set -o errexit -o nounset -o pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  require_env KUBEHA_APP_PORT
  export KUBECONFIG="${ADMIN_KUBECONFIG}"
  if kubectl -n kubeha-drill get service kubeha-drill-app >/dev/null 2>&1; then
    log "the drill application is deployed already, nothing to do"
    result '{"changed":false}'
    return 0
  fi
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: kubeha-drill
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubeha-drill-app
  namespace: kubeha-drill
spec:
  replicas: 2
  selector:
    matchLabels: { app: kubeha-drill-app }
  template:
    metadata:
      labels: { app: kubeha-drill-app }
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels: { app: kubeha-drill-app }
      containers:
        - name: web
          image: registry.k8s.io/e2e-test-images/agnhost:2.52
          args: ["netexec", "--http-port=8080"]
          ports: [{ containerPort: 8080 }]
          readinessProbe:
            httpGet: { path: /healthz, port: 8080 }
            periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: kubeha-drill-app
  namespace: kubeha-drill
spec:
  type: NodePort
  selector: { app: kubeha-drill-app }
  ports:
    - port: 80
      targetPort: 8080
      nodePort: ${KUBEHA_APP_PORT}
YAML
  run_logged drill-app-rollout kubectl -n kubeha-drill rollout status deployment/kubeha-drill-app --timeout=5m ||
    fail "the drill application did not become ready"
  log "deployed the drill application on NodePort ${KUBEHA_APP_PORT}"
  result '{"changed":true}'
}

main "$@"
