// What each kubeha document does to a simulated node and to its cluster: the kubeadm, etcd, nginx and
// probe behaviour the documents' scripts have on a real node, as far as healing and bootstrap see it.
import { encryptionOf, providersOnInstance, rewriteSecrets, startApiServer, stopApiServer } from './encryption.js';
import type { Invocation, KubeCluster, SimInstance, SimulatedFleet } from './fleet.js';

export const CERTS_TTL_MS = 2 * 3600_000;

/**
 * What a document does to the node the moment it starts there, for the few whose effect is visible while
 * they run: RenewCertificates moves this master's static pod manifests away (renew-certificates.sh), so its
 * etcd member and API server are down from its start until it ends healthy, or for good if it fails.
 */
export function startDocument(fleet: SimulatedFleet, invocation: Invocation, instance: SimInstance): void {
  if (invocation.document !== 'RenewCertificates' || instance.node.kubeadm !== 'control-plane' || instance.node.certificatesExpireAt === undefined) return;
  const windowMs = Number(invocation.parameters.RenewWithinDays ?? '0') * 86_400_000;
  if (instance.node.certificatesExpireAt > fleet.now() + windowMs && !instance.node.certificatesRestartPending) return;
  const cluster = fleet.clusters.get(fleet.clusterNameOf(instance));
  for (const member of cluster?.etcdMembers ?? []) if (member.instanceId === instance.instanceId) member.healthy = false;
  fleet.history.push({ at: fleet.now(), what: `static pods of ${instance.instanceId} down: restarting with renewed certificates` });
}

export function runDocument(fleet: SimulatedFleet, invocation: Invocation, instance: SimInstance): string {
  const parameters = invocation.parameters;
  if (invocation.document === 'PrepareNodeImage') {
    // install-prerequisites.sh for a Kubernetes node, `kubeadm config images pull`, then the instance's
    // identity cleaned (prepare-node-image.sh): what CreateImage then captures. A builder belongs to no cluster.
    const kubernetesVersion = param(parameters, 'KubernetesVersion');
    instance.node.prerequisites = { kubernetesVersion, role: 'node' };
    instance.node.imagesPulled = kubernetesVersion;
    // A warm standby keeps its identity (CleanIdentity false): its registered agent answers again when it is started.
    const what = parameters.CleanIdentity === 'false' ? `standby prepared for kubernetes ${kubernetesVersion}; identity kept` : `node image prepared for kubernetes ${kubernetesVersion}; identity cleaned`;
    return `kubeha: ${what}\nKUBEHA_RESULT ${JSON.stringify({ kubernetesVersion, changed: true })}\n`;
  }
  const clusterName = fleet.clusterNameOf(instance);
  const hostname = `ip-${instance.privateIp.replaceAll('.', '-')}`;
  const result = (line: string, data: Record<string, unknown>) => `${line}\nKUBEHA_RESULT ${JSON.stringify(data)}\n`;
  switch (invocation.document) {
    case 'InstallPrerequisites': {
      const wanted = { kubernetesVersion: param(parameters, 'KubernetesVersion'), role: param(parameters, 'Role') };
      // Masters and workers install the same things (install-prerequisites.sh); load balancers others.
      if (instance.node.prerequisites?.kubernetesVersion === wanted.kubernetesVersion && (instance.node.prerequisites.role === 'lb') === (wanted.role === 'lb')) {
        return result('kubeha: prerequisites already installed, nothing to do', { changed: false });
      }
      instance.node.prerequisites = wanted;
      return result(`kubeha: installed prerequisites for ${wanted.role} (kubernetes ${wanted.kubernetesVersion})`, { changed: true });
    }
    case 'ConfigureLoadBalancer': {
      const upstreams = param(parameters, 'MasterAddresses').split(',');
      const balancers = param(parameters, 'LoadBalancerAddresses').split(',');
      const listenPort = Number(param(parameters, 'ListenPort'));
      if (!balancers.includes(instance.privateIp)) throw new Error(`this node (${instance.privateIp}) is not among LoadBalancerAddresses`);
      const unchanged = instance.node.nginx && instance.node.nginx.upstreams.join() === upstreams.join() && instance.node.nginx.listenPort === listenPort;
      instance.node.nginx = { upstreams, listenPort, reloads: (instance.node.nginx?.reloads ?? 0) + (unchanged ? 0 : 1) };
      instance.node.keepalived = {
        priority: balancers[0] === instance.privateIp ? 150 : 100,
        peers: balancers.filter((address) => address !== instance.privateIp),
        elasticIpAllocationId: param(parameters, 'ElasticIpAllocationId'),
      };
      return result(unchanged ? 'kubeha: load balancer configuration unchanged' : 'kubeha: nginx -t passed; nginx reloaded', { changed: !unchanged });
    }
    case 'ConfigureNodeProxy': {
      if (instance.node.kubeadm === 'control-plane') throw new Error('kubeha: error: a master runs no API proxy: its own kube-apiserver listens on 6443');
      const upstreams = param(parameters, 'MasterAddresses').split(',');
      const unchanged = instance.node.proxy?.upstreams.join() === upstreams.join();
      instance.node.proxy = configureProxy(instance, upstreams);
      return result(unchanged ? 'kubeha: API proxy already forwards to the masters, nothing to do' : `kubeha: API proxy forwards to ${upstreams.join(',')}`, { changed: !unchanged });
    }
    case 'InitFirstMaster': {
      const existing = fleet.clusters.get(clusterName);
      if (existing) {
        if (existing.firstMasterId !== instance.instanceId) throw new Error(`cluster ${clusterName} was already initialized on ${existing.firstMasterId}`);
        return result('kubeha: /etc/kubernetes/admin.conf exists; already initialized', { caCertHash: existing.caCertHash, changed: false });
      }
      // init-first-master.sh never resets a master kubeha recorded as initialized (a lost cluster is an outage to heal).
      if (parameters.InitializedBefore === 'true') throw new Error(`kubeha: error: kubeha recorded this cluster as initialized, but it lacks an API that answers; not resetting a control plane that holds the cluster's data`);
      fleet.requirePrerequisites(instance);
      // The script writes the EncryptionConfiguration before kubeadm init: no key, no init.
      const providers = providersOnInstance(fleet, param(parameters, 'EncryptionSecretId'));
      const material = fleet.joinMaterialOnInstance(instance, parameters, 'control-plane');
      const caCertHash = `sha256:${fleet.hex(64)}`;
      const cluster: KubeCluster = {
        clusterName,
        caCertHash,
        firstMasterId: instance.instanceId,
        controlPlaneEndpoint: param(parameters, 'ControlPlaneEndpoint'),
        etcdMembers: [{ name: hostname, instanceId: instance.instanceId, peerUrl: `https://${instance.privateIp}:2380`, healthy: true }],
        nodes: [{ name: hostname, instanceId: instance.instanceId, role: 'control-plane', ready: false }],
        tokens: [{ token: material.token, expiresAt: fleet.now() + 3600_000, kind: 'control-plane' }],
        uploadedCertificates: { certificateKey: material.certificateKey!, expiresAt: fleet.now() + CERTS_TTL_MS },
        controlPlaneJoins: [],
      };
      fleet.clusters.set(clusterName, cluster);
      startApiServer(fleet, cluster, instance.instanceId, providers);
      // What kubeadm init itself stores as Secrets, encrypted from the first write.
      for (const name of ['kube-system/kubeadm-certs', `kube-system/bootstrap-token-${material.token.slice(0, 6)}`]) encryptionOf(cluster).secrets.set(name, providers[0]!);
      instance.node.kubeadm = 'control-plane';
      instance.node.certificatesExpireAt = fleet.now() + LEAF_CERTIFICATE_VALIDITY_MS;
      cluster.caExpiresAt = fleet.now() + CA_CERTIFICATE_VALIDITY_MS;
      fleet.putSecretValue(param(parameters, 'KubeconfigSecretId'), `apiVersion: v1\nkind: Config\n# admin credentials for ${clusterName} ${fleet.hex(40)}\n`);
      return result(`kubeha: initialized control plane on ${hostname}`, { caCertHash, changed: true });
    }
    case 'InstallCni': {
      const cluster = fleet.requireCluster(clusterName);
      const podCidr = param(parameters, 'PodCidr');
      cluster.cni = { version: param(parameters, 'CniVersion'), podCidr };
      for (const node of cluster.nodes) node.ready = true;
      return result(`kubeha: calico ${cluster.cni.version} applied with pool ${podCidr}`, { changed: true });
    }
    case 'RefreshJoinMaterial': {
      const cluster = fleet.requireCluster(clusterName);
      if (instance.node.kubeadm !== 'control-plane') throw new Error('this node is not a control-plane node');
      const material = fleet.joinMaterialOnInstance(instance, parameters, 'any');
      const ttlMinutes = Number(/^(\d+)m$/.exec(param(parameters, 'TokenTtl'))?.[1] ?? 'NaN');
      if (!Number.isFinite(ttlMinutes)) throw new Error('TokenTtl must look like 30m');
      // refresh-join-material.sh's remove_unstarted_learners, before the token: a learner a failed join left.
      cluster.etcdMembers = cluster.etcdMembers.filter((member) => !member.unstartedLearner);
      // scripts/refresh-join-material.sh: a worker token goes into kubeha's worker group and uploads nothing.
      cluster.tokens.push({ token: material.token, expiresAt: fleet.now() + ttlMinutes * 60_000, kind: material.kind });
      if (material.kind === 'worker') return result('kubeha: worker token registered', { changed: true });
      cluster.uploadedCertificates = { certificateKey: material.certificateKey!, expiresAt: fleet.now() + CERTS_TTL_MS };
      return result('kubeha: control-plane token registered and certificates uploaded', { changed: true });
    }
    case 'JoinControlPlane':
    case 'JoinWorker': {
      const controlPlane = invocation.document === 'JoinControlPlane';
      const cluster = fleet.requireCluster(clusterName);
      if (instance.node.kubeadm) {
        if (!controlPlane) instance.node.proxy = configureProxy(instance, param(parameters, 'MasterAddresses').split(','));
        return result('kubeha: /etc/kubernetes/kubelet.conf exists; already joined', { changed: false, ...joinReport(fleet, cluster, instance) });
      }
      fleet.requirePrerequisites(instance);
      const providers = controlPlane ? providersOnInstance(fleet, param(parameters, 'EncryptionSecretId')) : undefined;
      const material = fleet.joinMaterialOnInstance(instance, parameters, controlPlane ? 'control-plane' : 'worker');
      // Discovery first: kubeadm fetches cluster-info from the control-plane endpoint before it checks anything.
      const unreachable = fleet.joinEndpointProblem(instance, param(parameters, 'ControlPlaneEndpoint'));
      if (unreachable) throw new Error(unreachable);
      if (param(parameters, 'CaCertHash') !== cluster.caCertHash) throw new Error('error execution phase preflight: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:..." are pinned');
      if (param(parameters, 'ControlPlaneEndpoint') !== cluster.controlPlaneEndpoint) throw new Error('error execution phase preflight: unable to fetch the kubeadm-config ConfigMap: wrong endpoint');
      const token = cluster.tokens.find((candidate) => candidate.token === material.token && candidate.expiresAt > fleet.now());
      if (!token) throw new Error('error execution phase preflight: couldn\'t validate the identity of the API Server: token id not found or expired');
      if (controlPlane) {
        const certificates = cluster.uploadedCertificates;
        if (!certificates || certificates.expiresAt <= fleet.now()) throw new Error('error execution phase control-plane-prepare/download-certs: Secret "kubeadm-certs" was not found');
        // copycerts.go createRBAC binds get kubeadm-certs to kubeadm's default group only: a worker token is Forbidden.
        if (token.kind !== 'control-plane') throw new Error('error execution phase control-plane-prepare/download-certs: error downloading the secret: secrets "kubeadm-certs" is forbidden: User "system:bootstrap:' + material.token.split('.')[0] + '" cannot get resource "secrets" in API group "" in the namespace "kube-system"');
        if (certificates.certificateKey !== material.certificateKey) throw new Error('error execution phase control-plane-prepare/download-certs: failed to decrypt: cipher: message authentication failed');
        const overlapping = fleet.invocations.find(
          (other) => other !== invocation && other.document === 'JoinControlPlane' && other.startedAt < invocation.finishesAt && other.finishesAt > invocation.startedAt && fleet.clusterNameOf(fleet.requireInstance(other.instanceId)) === clusterName,
        );
        if (overlapping) throw new Error('error execution phase etcd-join: etcdserver: too many learner members in cluster');
        // etcd admits one learner by default (--max-learners 1), and a peer URL once.
        const leftBehind = cluster.etcdMembers.find((member) => member.unstartedLearner);
        if (leftBehind?.peerUrl === `https://${instance.privateIp}:2380`) throw new Error('error execution phase etcd-join: etcdserver: Peer URLs already exists');
        if (leftBehind) throw new Error('error execution phase etcd-join: etcdserver: too many learner members in cluster');
        if (!fleet.hasQuorum(cluster)) throw new Error('error execution phase etcd-join: etcdserver: unhealthy cluster');
        cluster.etcdMembers.push({ name: hostname, instanceId: instance.instanceId, peerUrl: `https://${instance.privateIp}:2380`, healthy: true });
        fleet.history.push({ at: fleet.now(), what: `etcd member ${hostname} added (${instance.instanceId})` });
        cluster.controlPlaneJoins.push({ instanceId: instance.instanceId, start: invocation.startedAt, end: invocation.finishesAt });
      }
      const networkWait = cluster.cni ? fleet.networkReadySeconds : 0;
      cluster.nodes.push({ name: hostname, instanceId: instance.instanceId, role: controlPlane ? 'control-plane' : 'worker', ready: Boolean(cluster.cni) && networkWait === 0 });
      // The kubelet's recovery (sim/fleet.ts settleLifecycles) marks it Ready once the plugin's pod runs.
      if (networkWait > 0) instance.recoversAt = fleet.now() + networkWait * 1000;
      instance.node.kubeadm = controlPlane ? 'control-plane' : 'worker';
      if (controlPlane) instance.node.certificatesExpireAt = fleet.now() + LEAF_CERTIFICATE_VALIDITY_MS;
      if (providers) startApiServer(fleet, cluster, instance.instanceId, providers);
      // join-node.sh starts a worker's local API proxy before kubeadm join and points the kubelet at it.
      if (!controlPlane) instance.node.proxy = { upstreams: param(parameters, 'MasterAddresses').split(','), reloads: 1 };
      return result(`kubeha: joined ${hostname} as ${controlPlane ? 'control-plane' : 'worker'}`, { changed: true, ...joinReport(fleet, cluster, instance) });
    }
    case 'ApplyEncryptionConfig': {
      const cluster = fleet.requireCluster(clusterName);
      const running = encryptionOf(cluster).apiServers.get(instance.instanceId);
      if (instance.node.kubeadm !== 'control-plane' || !running) throw new Error('kubeha: error: this node is not an initialized control-plane node');
      const providers = providersOnInstance(fleet, param(parameters, 'EncryptionSecretId'), param(parameters, 'EncryptionSecretVersionId'));
      if (providers.join() === running.join()) return result('kubeha: kube-apiserver was restarted with this EncryptionConfiguration already; nothing to do', { changed: false });
      startApiServer(fleet, cluster, instance.instanceId, providers);
      return result('kubeha: kube-apiserver is healthy again', { changed: true });
    }
    case 'RewriteSecrets': {
      const cluster = fleet.requireCluster(clusterName);
      const count = rewriteSecrets(fleet, cluster, instance.instanceId);
      return result(`kubeha: rewrote ${count} Secrets with the current encryption key`, { changed: true, secrets: count });
    }
    case 'VerifyCluster': {
      const cluster = fleet.requireCluster(clusterName);
      const expectedControlPlane = Number(param(parameters, 'ExpectedControlPlaneNodes'));
      const expectedWorkers = Number(param(parameters, 'ExpectedWorkerNodes'));
      const report = {
        nodesReady: cluster.nodes.filter((node) => node.ready).length,
        nodesTotal: cluster.nodes.length,
        controlPlaneNodes: cluster.nodes.filter((node) => node.role === 'control-plane').length,
        workerNodes: cluster.nodes.filter((node) => node.role === 'worker').length,
        etcdMembers: cluster.etcdMembers.length,
        etcdHealthy: cluster.etcdMembers.filter((member) => member.healthy).length,
        kubeSystemPodsNotRunning: 0,
        // The script's report shape; InitFirstMaster points kube-proxy there (kubeadm's add-ons are not simulated).
        kubeProxyServer: 'https://127.0.0.1:6443',
      };
      const problems = [
        report.controlPlaneNodes !== expectedControlPlane && `expected ${expectedControlPlane} control-plane nodes, found ${report.controlPlaneNodes}`,
        report.workerNodes !== expectedWorkers && `expected ${expectedWorkers} worker nodes, found ${report.workerNodes}`,
        report.nodesReady !== report.nodesTotal && `${report.nodesTotal - report.nodesReady} nodes are not Ready`,
        report.etcdMembers !== expectedControlPlane && `etcd has ${report.etcdMembers} members, expected ${expectedControlPlane}`,
        report.etcdHealthy !== report.etcdMembers && `${report.etcdMembers - report.etcdHealthy} etcd members are unhealthy`,
      ].filter(Boolean);
      if (problems.length > 0) throw new Error(`kubeha: cluster is not healthy: ${problems.join('; ')}\nKUBEHA_RESULT ${JSON.stringify(report)}`);
      return result('kubeha: all nodes Ready, all etcd members healthy', report);
    }
    case 'ClusterStatus': {
      const cluster = fleet.requireCluster(clusterName);
      if (instance.node.kubeadm !== 'control-plane') throw new Error('crictl: no running etcd container on this node');
      // StatusScope certificates: this master's certificates only (cluster-status.sh).
      if (parameters.StatusScope === 'certificates') return result('kubeha: certificates only', { certificates: certificatesOn(instance, cluster) });
      const { members, nodes } = statusReport(fleet, cluster);
      return result(`kubeha: ${members.length} etcd members, ${nodes.length} nodes`, { members, nodes, certificates: certificatesOn(instance, cluster) });
    }
    case 'RenewCertificates': {
      // renew-certificates.sh: `kubeadm certs renew all` when the earliest leaf expires within the window
      // (365 more days from now, constants.go CertificateValidityPeriod), then the static pods restarted from
      // their manifests and waited for: down since the document started (startDocument), healthy when it ends.
      const cluster = fleet.requireCluster(clusterName);
      if (instance.node.kubeadm !== 'control-plane' || instance.node.certificatesExpireAt === undefined) throw new Error('kubeha: error: this node is not a control-plane node (/etc/kubernetes/admin.conf is missing)');
      const windowMs = Number(param(parameters, 'RenewWithinDays')) * 86_400_000;
      if (instance.node.certificatesExpireAt > fleet.now() + windowMs && instance.node.certificatesRestartPending) {
        // Renewed by a run that died before the restart: the static pods restart only (lib/static-pods.sh).
        delete instance.node.certificatesRestartPending;
        for (const member of cluster.etcdMembers) if (member.instanceId === instance.instanceId) member.healthy = true;
        fleet.history.push({ at: fleet.now(), what: `static pods of ${instance.instanceId} up: certificates expire at ${isoSeconds(instance.node.certificatesExpireAt)}` });
        return result('kubeha: static pods restarted with the renewed certificates', { changed: true, renewed: false, restarted: true, kubeconfigStored: false, expiresAt: isoSeconds(instance.node.certificatesExpireAt) });
      }
      if (instance.node.certificatesExpireAt > fleet.now() + windowMs) {
        return result('kubeha: certificates are current and served; nothing to do', { changed: false, renewed: false, restarted: false, kubeconfigStored: false, expiresAt: isoSeconds(instance.node.certificatesExpireAt) });
      }
      instance.node.certificatesExpireAt = fleet.now() + LEAF_CERTIFICATE_VALIDITY_MS;
      delete instance.node.certificatesRestartPending;
      for (const member of cluster.etcdMembers) if (member.instanceId === instance.instanceId) member.healthy = true;
      // admin.conf's client certificate is renewed too: the script stores it in the admin kubeconfig secret again.
      fleet.putSecretValue(param(parameters, 'KubeconfigSecretId'), `apiVersion: v1\nkind: Config\n# admin credentials for ${clusterName} renewed on ${hostname} ${fleet.hex(40)}\n`);
      fleet.history.push({ at: fleet.now(), what: `static pods of ${instance.instanceId} up: certificates expire at ${isoSeconds(instance.node.certificatesExpireAt)}` });
      return result('kubeha: certificates renewed; API server and etcd member healthy', { changed: true, renewed: true, restarted: true, kubeconfigStored: true, expiresAt: isoSeconds(instance.node.certificatesExpireAt) });
    }
    case 'RemoveEtcdMember': {
      const cluster = fleet.requireCluster(clusterName);
      const peerIp = param(parameters, 'MemberPeerIp');
      const target = cluster.etcdMembers.find((member) => member.peerUrl === `https://${peerIp}:2380`);
      let removed: string | null = null;
      if (target) {
        // remove-etcd-member.sh passes over learners: they do not vote, and etcd judges a removal by its voters.
        const sick = cluster.etcdMembers.find((member) => member !== target && !member.unstartedLearner && !(member.healthy && fleet.hasQuorum(cluster)));
        if (sick) throw new Error(`kubeha: error: refusing: etcd member ${sick.name} is unhealthy too; removing ${target.name} could lose quorum`);
        cluster.etcdMembers = cluster.etcdMembers.filter((member) => member !== target);
        removed = target.name;
        fleet.history.push({ at: fleet.now(), what: `etcd member ${target.name} removed` });
      }
      const node = cluster.nodes.find((candidate) => fleet.requireInstance(candidate.instanceId).privateIp === peerIp);
      cluster.nodes = cluster.nodes.filter((candidate) => candidate !== node);
      return result(removed ? `kubeha: removed etcd member ${removed}` : `kubeha: no etcd member has peer address ${peerIp}; already removed`, {
        removedMember: removed,
        deletedNode: node?.name ?? null,
      });
    }
    case 'SnapshotEtcd': {
      const cluster = fleet.requireCluster(clusterName);
      if (!fleet.hasQuorum(cluster)) throw new Error('kubeha: error: etcdctl snapshot save failed: context deadline exceeded');
      const key = `${param(parameters, 'ClusterName')}/${param(parameters, 'SnapshotLabel')}.db`;
      fleet.snapshots.push({ bucket: param(parameters, 'SnapshotBucket'), key, at: fleet.now() });
      fleet.history.push({ at: fleet.now(), what: `etcd snapshot saved to s3://${param(parameters, 'SnapshotBucket')}/${key}` });
      return result(`kubeha: saved etcd snapshot to s3://${param(parameters, 'SnapshotBucket')}/${key}`, { bucket: param(parameters, 'SnapshotBucket'), key, bytes: 4_194_304 });
    }
    case 'ResetNode': {
      const changed = instance.node.kubeadm !== undefined;
      delete instance.node.kubeadm;
      delete instance.node.certificatesExpireAt;
      const cluster = fleet.clusters.get(clusterName);
      if (cluster) stopApiServer(cluster, instance.instanceId);
      return result(changed ? 'kubeha: node reset; it can join again' : 'kubeha: nothing to reset, nothing to do', { changed });
    }
    case 'CheckLoadBalancer': {
      if (!instance.node.nginx) throw new Error('kubeha: error: nginx is not running');
      // keepalived's check asks nginx's own health server, which a hung nginx never answers.
      if (instance.node.nginx.hung) throw new Error('kubeha: error: nginx does not answer its health check');
      return result('kubeha: nginx and keepalived are healthy', { healthy: true });
    }
    case 'ProbeLoadBalancer': {
      // probe-load-balancer.sh: /livez through this node's nginx (test/scripts/probe-load-balancer.test.ts).
      const nginx = instance.node.nginx;
      if (!nginx) return result('kubeha: unhealthy: nginx is not running', { healthy: false, reason: 'nginx is not running' });
      const answers = !nginx.hung && fleet.apiAnswersThrough(instance);
      return answers
        ? result('kubeha: an API server answered /livez through nginx', { healthy: true, reason: '' })
        : result('kubeha: unhealthy: no API server answered /livez through nginx in 3 tries of 3 s', { healthy: false, reason: 'no API server answered /livez through nginx in 3 tries of 3 s' });
    }
    case 'DeployTestApp': {
      const cluster = fleet.requireCluster(clusterName);
      const changed = !cluster.testApp;
      cluster.testApp = true;
      return result(changed ? 'kubeha: deployed the drill application' : 'kubeha: the drill application is deployed already, nothing to do', { changed });
    }
    case 'ApplyNodeProfile':
      return applyNodeProfile(fleet, param(parameters, 'Mounts'), instance, result);
    case 'CheckExternalServices': {
      const spec = param(parameters, 'Endpoints');
      const endpoints = (spec === 'none' ? [] : spec.split(',')).map((entry) => {
        const [name, kind, host, port] = entry.split(':') as [string, string, string, string];
        const reachable = fleet.reachableEndpoints.has(`${host}:${port}`);
        return { name, kind, host, port: Number(port), reachable, ...(reachable ? {} : { reason: 'no answer within 5 s (a security group or network ACL may drop the traffic)' }) };
      });
      return result(endpoints.map((endpoint) => `kubeha: ${endpoint.name} (${endpoint.kind}) ${endpoint.host}:${endpoint.port}${endpoint.reachable ? ' answers' : `: ${endpoint.reason}`}`).join('\n'), { endpoints });
    }
    case 'GrantUserAccess': {
      const cluster = fleet.requireCluster(clusterName);
      if (instance.node.kubeadm !== 'control-plane') throw new Error('kubeha: error: the API does not answer through /etc/kubernetes/admin.conf: is this a joined master?');
      const user = param(parameters, 'UserName');
      const clusterRole = param(parameters, 'ClusterRole');
      const group = param(parameters, 'UserGroup');
      // The user-facing ClusterRoles every cluster has (Kubernetes RBAC docs, "User-facing roles").
      if (!['cluster-admin', 'admin', 'edit', 'view'].includes(clusterRole)) {
        throw new Error(`kubeha: error: ClusterRole ${clusterRole} does not exist in ${clusterName}: create it first, or choose another with --cluster-role`);
      }
      const expiresAt = fleet.now() + Number(param(parameters, 'ValidityHours')) * 3600_000;
      cluster.userBindings = { ...cluster.userBindings, [user]: { clusterRole, group, expiresAt } };
      const secretId = param(parameters, 'UserSecretId');
      const expires = new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace('.000Z', 'Z');
      const tags = { [`kubernetes.io/cluster/${clusterName}`]: 'owned', 'kubeha:user': user, 'kubeha:group': group, 'kubeha:cluster-role': clusterRole, 'kubeha:expires': expires };
      const secret = fleet.findSecret(secretId) ?? fleet.createSecret(secretId, tags);
      Object.assign(secret.tags, tags);
      fleet.putSecretValue(secretId, `apiVersion: v1\nkind: Config\nusers:\n- name: ${user}\n  user:\n    client-certificate-data: ${fleet.hex(64)}\n    client-key-data: ${fleet.hex(64)}\n`);
      return result(`kubeha: granted ${user} (group ${group}) ClusterRole ${clusterRole} until ${expires}; kubeconfig in ${secretId}`, {
        user,
        group,
        clusterRole,
        binding: `kubeha-access.${user}`,
        secretName: secretId,
        expiresAt: expires,
      });
    }
    case 'RevokeUserAccess': {
      const cluster = fleet.requireCluster(clusterName);
      if (instance.node.kubeadm !== 'control-plane') throw new Error('kubeha: error: the API does not answer through /etc/kubernetes/admin.conf: is this a joined master?');
      const user = param(parameters, 'UserName');
      const bindingDeleted = Boolean(cluster.userBindings?.[user]);
      if (cluster.userBindings) delete cluster.userBindings[user];
      const secretDeleted = fleet.deleteSecret(param(parameters, 'UserSecretId'));
      return result(bindingDeleted || secretDeleted ? `kubeha: revoked ${user}` : `kubeha: ${user} had no binding and no secret, nothing to do`, { user, bindingDeleted, secretDeleted });
    }
    case 'StartProbe': {
      const drillId = param(parameters, 'DrillId');
      if (!fleet.probes.has(drillId)) fleet.probes.set(drillId, { instanceId: instance.instanceId, samples: [], active: true, nextSampleAt: fleet.now() + 1000 });
      return result(`kubeha: probe kubeha-probe-${drillId} started`, { changed: true });
    }
    case 'StopProbe': {
      const probe = fleet.probes.get(param(parameters, 'DrillId'));
      if (!probe || probe.instanceId !== instance.instanceId) throw new Error(`kubeha: error: no samples for drill ${param(parameters, 'DrillId')}: was the probe started on this node?`);
      probe.active = false;
      const longest = (kind: 'api' | 'app' | 'inCluster') => {
        let run = 0;
        let best = 0;
        for (const sample of probe.samples) {
          run = sample[kind] ? 0 : run + 1;
          best = Math.max(best, run);
        }
        return best;
      };
      return result('kubeha: probe stopped', {
        samples: probe.samples.length,
        apiOk: probe.samples.filter((sample) => sample.api).length,
        appOk: probe.samples.filter((sample) => sample.app).length,
        longestApiOutageSeconds: longest('api'),
        longestAppOutageSeconds: longest('app'),
        inClusterOk: probe.samples.filter((sample) => sample.inCluster).length,
        longestInClusterOutageSeconds: longest('inCluster'),
      });
    }
    default:
      throw new Error(`document ${invocation.document} is not modelled`);
  }
}

/** What configure_node_proxy leaves: the new upstreams, reloaded only when they changed. */
function configureProxy(instance: SimInstance, upstreams: string[]): { upstreams: string[]; reloads: number } {
  const previous = instance.node.proxy;
  const unchanged = previous?.upstreams.join() === upstreams.join();
  return { upstreams, reloads: (previous?.reloads ?? 0) + (unchanged ? 0 : 1) };
}

/** A stable 16-hex-digit member id, as etcdctl prints them. */
function createHashId(seed: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const character of seed) hash = BigInt.asUintN(64, (hash ^ BigInt(character.charCodeAt(0))) * 0x100000001b3n);
  return hash.toString(16).padStart(16, '0');
}

/** What apply-node-profile.sh does: kubeha's fstab block, then `mount` for each volume not mounted yet. */
function applyNodeProfile(fleet: SimulatedFleet, spec: string, instance: SimInstance, result: (line: string, data: Record<string, unknown>) => string): string {
  const mounts = (spec === 'none' ? [] : spec.split(',')).map((entry) => {
    const [servers, volume, mountPoint, extra] = entry.split(':') as [string, string, string, string];
    const [primary, ...backups] = servers.split('+');
    const options = ['defaults', '_netdev', ...(backups.length ? [`backup-volfile-servers=${backups.join(':')}`] : []), ...(extra ? extra.split('+') : [])].join(',');
    return { servers: [primary!, ...backups], volume, mountPoint, source: `${primary}:/${volume}`, line: `${primary}:/${volume} ${mountPoint} glusterfs ${options} 0 0` };
  });
  const fstab = mounts.map((mount) => mount.line);
  const changed = (instance.node.fstab ?? []).join('\n') !== fstab.join('\n');
  instance.node.fstab = fstab;
  const mounted: string[] = [];
  const present: string[] = [];
  for (const mount of mounts) {
    const current = instance.node.mounts?.find((candidate) => candidate.mountPoint === mount.mountPoint);
    if (current) {
      if (current.source !== mount.source) throw new Error(`kubeha: error: ${mount.mountPoint} is mounted from ${current.source}, but the profile mounts ${mount.source} there: unmount it first`);
      present.push(mount.mountPoint);
      continue;
    }
    // mount.glusterfs asks the first server for the volume file, then each backup-volfile-server.
    if (!mount.servers.some((server) => fleet.glusterVolumes.has(`${server}:${mount.volume}`))) {
      throw new Error(`kubeha: error: mounting GlusterFS volume ${mount.volume} from ${mount.servers.join(', ')} on ${mount.mountPoint} failed: Mount failed. Check the log file  for more details.`);
    }
    instance.node.mounts = [...(instance.node.mounts ?? []), { source: mount.source, mountPoint: mount.mountPoint }];
    mounted.push(mount.mountPoint);
  }
  const line = changed || mounted.length > 0 ? `kubeha: wrote ${mounts.length} GlusterFS mounts to /etc/fstab; mounted ${mounted.join(' ') || 'nothing new'}` : `kubeha: node profile already applied (${mounts.length} mounts), nothing to do`;
  return result(line, { changed, systemdReloaded: changed, mounted, alreadyMounted: present });
}

export function param(parameters: Record<string, string>, name: string): string {
  const value = parameters[name];
  if (value === undefined) throw new Error(`document parameter ${name} is missing`);
  return value;
}

/** kubeadm's CertificateValidityPeriod and CACertificateValidityPeriod (cmd/kubeadm/app/constants/constants.go). */
export const LEAF_CERTIFICATE_VALIDITY_MS = 365 * 86_400_000;
export const CA_CERTIFICATE_VALIDITY_MS = 10 * 365 * 86_400_000;

/**
 * What cluster-status.sh reports of this master's certificates (`kubeadm certs check-expiration -o json`,
 * earliest leaf and CA): every leaf is signed together by init, join or renew, so the earliest is the
 * first by name, admin.conf. Null when kubeadm did not write them (a node that never joined). restartPending:
 * a static pod runs from before the files were renewed (lib/static-pods.sh).
 */
function certificatesOn(instance: SimInstance, cluster: KubeCluster) {
  const leaf = instance.node.certificatesExpireAt;
  if (leaf === undefined) return null;
  return { leaf: { name: 'admin.conf', expiresAt: isoSeconds(leaf) }, ca: cluster.caExpiresAt === undefined ? null : { name: 'ca', expiresAt: isoSeconds(cluster.caExpiresAt) }, restartPending: instance.node.certificatesRestartPending === true };
}

/**
 * What cluster-status.sh reports from a master: every etcd member (healthy only while etcd has quorum)
 * and every Node (none when the API cannot answer for lack of quorum).
 */
function statusReport(fleet: SimulatedFleet, cluster: KubeCluster) {
  const quorum = fleet.hasQuorum(cluster);
  const members = cluster.etcdMembers.map((member) => ({
    id: createHashId(member.name + member.peerUrl),
    // lib/etcd.sh names a member etcdctl lists without a name (never started) "(unstarted)".
    name: member.unstartedLearner ? '(unstarted)' : member.name,
    peerIp: /https:\/\/([0-9.]+):/.exec(member.peerUrl)?.[1] ?? '',
    healthy: quorum && member.healthy,
    isLearner: member.unstartedLearner === true,
  }));
  const nodes = quorum
    ? cluster.nodes.map((node) => ({ name: node.name, internalIp: fleet.requireInstance(node.instanceId).privateIp, ready: node.ready, controlPlane: node.role === 'control-plane' }))
    : [];
  return { members, nodes };
}

/**
 * join-node.sh's report of the node it joined (report_joined): its own Node as the API serves it then, and
 * for a control-plane node every etcd member; a worker reads no etcd. Read when the document ends, as
 * every simulated document reads the cluster.
 */
function joinReport(fleet: SimulatedFleet, cluster: KubeCluster, instance: SimInstance) {
  const { members, nodes } = statusReport(fleet, cluster);
  return { members: instance.node.kubeadm === 'control-plane' ? members : [], nodes: nodes.filter((node) => node.internalIp === instance.privateIp) };
}

/** A time as kubeadm's check-expiration prints it: RFC 3339, whole seconds (its certificates carry no fractions). */
function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
