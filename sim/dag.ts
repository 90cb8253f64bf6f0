// What must precede what, written down once: in bootstrap and in each healing scenario. Each node is a
// piece of physical work (a document running on instances, an instance booting, one AWS call); each edge
// says the later work cannot start before the earlier one has ended, and why. The same DAG gives
// - the critical-path lower bound: the longest path, with each node lasting what the simulator's latency
//   model (sim/latency.ts, BOOT_SECONDS and agent registration in sim/fleet.ts, API_CALL_SECONDS) made it
//   last in that very run — no orchestration at all, only the work and its order;
// - the check that the state machines respect it: in a recorded run, no node started before every node
//   it depends on had ended (checkOrder).
// Orchestration (Lambda calls, polls, waits for the lock) is what the ratio of the two measures.
import { DOCUMENT_SECONDS } from './latency.js';
import { BOOT_SECONDS, KUBELET_RECOVERY_SECONDS, type Invocation, type SimulatedFleet } from './fleet.js';

export interface DagNode {
  readonly id: string;
  /** Why this node waits for each of its predecessors (by id). */
  readonly after: Readonly<Record<string, string>>;
  /** Where the work shows in a recorded run; absent when the run did not need it (e.g. the address stayed). */
  readonly span?: Span;
  /** A node that a run may skip (its successors then depend only on their other predecessors). */
  readonly optional?: boolean;
}

export interface Span {
  readonly start: number;
  readonly end: number;
}

export interface Dag {
  readonly name: string;
  /** When the scenario began: the execution's start (bootstrap) or the failure (healing). */
  readonly origin: number;
  readonly nodes: readonly DagNode[];
}

// ---- reading a recorded run -------------------------------------------------------------------

const spanOf = (invocations: readonly Invocation[]): Span | undefined =>
  invocations.length === 0 ? undefined : { start: Math.min(...invocations.map((i) => i.startedAt)), end: Math.max(...invocations.map((i) => i.finishesAt)) };

const API_CALL_MS = 120;

function documentRuns(fleet: SimulatedFleet, since: number, document: string, where: (invocation: Invocation) => boolean = () => true): Invocation[] {
  return fleet.invocations.filter((invocation) => invocation.startedAt >= since && invocation.document === document && invocation.status === 'Success' && where(invocation));
}

function callSpan(fleet: SimulatedFleet, since: number, operation: string, where: (input: Record<string, unknown>) => boolean = () => true): Span | undefined {
  const call = fleet.calls.find((candidate) => candidate.at >= since && candidate.operation === operation && where(candidate.input as Record<string, unknown>));
  return call ? { start: call.at - API_CALL_MS, end: call.at } : undefined;
}

// ---- bootstrap ---------------------------------------------------------------------------------

/**
 * Bootstrap, from the recorded run that started at `origin`. Per instance: prerequisites; the pair's
 * configuration needs both load balancers prepared; the Elastic IP goes on once nginx serves; kubeadm init
 * needs the first master prepared and the endpoint answering (its phases after wait-control-plane talk to
 * the API through the endpoint); every token registration re-uploads the certificates under its key, so
 * registrations and control-plane joins take turns on the first master: the workers' token first, then
 * each master's own upload right before its join, masters one at a time (etcd admits one learner); a
 * worker needs the cluster initialized, its own prerequisites and the workers' token, not the other masters;
 * the CNI needs the initialized cluster only; verification needs every node joined and the CNI (Ready).
 */
export function bootstrapDag(fleet: SimulatedFleet, origin: number, clusterName = 'demo'): Dag {
  const since = origin;
  const ofCluster = (instanceId: string) => fleet.instances.get(instanceId)?.tags['kubeha:cluster'] === clusterName || fleet.instances.get(instanceId)?.tags[`kubernetes.io/cluster/${clusterName}`] !== undefined;
  const init = documentRuns(fleet, since, 'InitFirstMaster', (i) => ofCluster(i.instanceId));
  const firstMaster = init[0]?.instanceId;
  const masterJoins = documentRuns(fleet, since, 'JoinControlPlane', (i) => ofCluster(i.instanceId)).sort((a, b) => a.startedAt - b.startedAt);
  const workerJoins = documentRuns(fleet, since, 'JoinWorker', (i) => ofCluster(i.instanceId));
  const refreshes = documentRuns(fleet, since, 'RefreshJoinMaterial', (i) => i.instanceId === firstMaster);
  const refreshFor = (version: string | undefined) => refreshes.filter((refresh) => refresh.parameters.JoinSecretVersionId === version);
  const workerVersion = workerJoins[0]?.parameters.JoinSecretVersionId;
  const balancers = fleet.byRole('lb').map((instance) => instance.instanceId).filter(ofCluster);
  const prepared = documentRuns(fleet, since, 'InstallPrerequisites', (i) => ofCluster(i.instanceId));
  const prerequisites = (instanceId: string) => `prerequisites ${instanceId}`;

  const nodes: DagNode[] = [];
  for (const invocation of prepared) nodes.push({ id: prerequisites(invocation.instanceId), after: {}, span: spanOf([invocation]) });
  const preparedIds = new Set(prepared.map((invocation) => invocation.instanceId));
  const ifPrepared = (instanceId: string, reason: string): Record<string, string> => (preparedIds.has(instanceId) ? { [prerequisites(instanceId)]: reason } : {});

  nodes.push({
    id: 'configure the load balancers',
    after: Object.assign({}, ...balancers.map((id) => ifPrepared(id, 'nginx and keepalived must be installed'))),
    span: spanOf(documentRuns(fleet, since, 'ConfigureLoadBalancer', (i) => balancers.includes(i.instanceId))),
  });
  nodes.push({ id: 'elastic ip', after: { 'configure the load balancers': 'the endpoint must lead to a serving nginx' }, span: callSpan(fleet, since, 'AssociateAddress'), optional: true });
  nodes.push({
    id: 'kubeadm init',
    after: { ...(firstMaster ? ifPrepared(firstMaster, 'kubeadm, kubelet and containerd must be installed') : {}), 'elastic ip': 'init talks to the API through the endpoint', 'configure the load balancers': 'init talks to the API through the endpoint' },
    span: spanOf(init),
  });
  nodes.push({ id: 'cni', after: { 'kubeadm init': 'the CNI is applied to the initialized cluster' }, span: spanOf(documentRuns(fleet, since, 'InstallCni', (i) => i.instanceId === firstMaster)) });
  const hasWorkers = workerJoins.length > 0;
  if (hasWorkers) nodes.push({ id: "workers' token", after: { 'kubeadm init': 'a token is registered with the initialized cluster' }, span: spanOf(refreshFor(workerVersion)) });
  let previousJoin: string | undefined;
  for (const join of masterJoins) {
    const upload = `certificate upload for ${join.instanceId}`;
    const joined = `join ${join.instanceId}`;
    nodes.push({
      id: upload,
      after: {
        'kubeadm init': 'the certificates exist once init has run',
        ...(hasWorkers ? { "workers' token": "every registration re-uploads the certificates: the workers' first" } : {}),
        ...(previousJoin ? { [previousJoin]: 'a new upload would replace the certificates the previous master downloads' } : {}),
      },
      span: spanOf(refreshFor(join.parameters.JoinSecretVersionId)),
    });
    nodes.push({ id: joined, after: { [upload]: 'the join downloads the certificates under its own key', ...ifPrepared(join.instanceId, 'kubeadm must be installed') }, span: spanOf([join]) });
    previousJoin = joined;
  }
  // A worker's node profile (its GlusterFS mounts) runs on its batch after its prerequisites and before its join.
  const profiles = documentRuns(fleet, since, 'ApplyNodeProfile', (i) => ofCluster(i.instanceId));
  const mounted = new Set(profiles.map((invocation) => invocation.instanceId));
  for (const invocation of profiles) nodes.push({ id: `mounts ${invocation.instanceId}`, after: ifPrepared(invocation.instanceId, 'the GlusterFS client is installed with the prerequisites'), span: spanOf([invocation]) });
  for (const join of workerJoins) {
    nodes.push({
      id: `join ${join.instanceId}`,
      after: {
        'kubeadm init': 'the cluster must exist',
        "workers' token": 'the join authenticates with the token',
        ...ifPrepared(join.instanceId, 'kubeadm must be installed'),
        ...(mounted.has(join.instanceId) ? { [`mounts ${join.instanceId}`]: 'a worker is never Ready without its volumes' } : {}),
      },
      span: spanOf([join]),
    });
  }
  const joins = [...masterJoins, ...workerJoins].map((join) => `join ${join.instanceId}`);
  nodes.push({
    id: 'verify',
    after: { cni: 'nodes are Ready only with a CNI', ...Object.fromEntries(joins.map((id) => [id, 'every node must be in the cluster'])) },
    span: spanOf(documentRuns(fleet, since, 'VerifyCluster', (i) => i.instanceId === firstMaster)),
  });
  return { name: 'bootstrap', origin, nodes };
}

// ---- healing -----------------------------------------------------------------------------------

export type HealScenario =
  | 'terminate master'
  | 'stop master'
  | 'terminate worker'
  | 'stop worker'
  | 'terminate lb'
  | 'stop lb'
  | 'terminate master, warm standby'
  | 'terminate worker, warm standby';

/** A replacement started from a warm standby (functions/core/standbys.ts) rather than launched. */
export const WARM_STANDBY_SUFFIX = ', warm standby';

/**
 * Healing after `scenario` hit `targetId` at `origin` (the failure). The event's delivery is physics
 * too (EventBridge): everything starts from the heal's start. Then, by scenario:
 * - a replacement (terminate): the launch needs only the decision (the cluster's status read from a
 *   healthy master); the instance boots and its agent registers; prerequisites; a master's join needs
 *   its upload and the dead member removed (after a snapshot); a worker's needs a registered token;
 *   load balancers are re-pointed once the replacement's address is known; verification needs the join;
 * - a restart (stop): start, boot, and the health check once the node is back.
 */
export function healDag(fleet: SimulatedFleet, scenario: HealScenario, origin: number, healStartedAt: number): Dag {
  const since = origin;
  const fromStandby = scenario.endsWith(WARM_STANDBY_SUFFIX);
  const [action, role] = scenario.replace(WARM_STANDBY_SUFFIX, '').split(' ') as ['terminate' | 'stop', 'master' | 'worker' | 'lb'];
  const nodes: DagNode[] = [{ id: 'event delivered', after: {}, span: { start: origin, end: healStartedAt } }];
  const decided = { 'event delivered': 'healing starts when the event arrives' };
  if (action === 'stop') {
    const start = callSpan(fleet, since, 'StartInstances');
    nodes.push({ id: 'start', after: decided, span: start });
    nodes.push({ id: 'boot', after: { start: 'an instance boots once started' }, span: start ? { start: start.end, end: start.end + BOOT_SECONDS * 1000 } : undefined });
    if (role === 'lb') {
      nodes.push({ id: 'configure the load balancers', after: { boot: 'nginx runs on the booted instance' }, span: spanOf(documentRuns(fleet, since, 'ConfigureLoadBalancer')), optional: true });
    } else {
      // The kubelet and the etcd member come back KUBELET_RECOVERY_SECONDS after the boot (sim/fleet.ts).
      const booted = start ? start.end + BOOT_SECONDS * 1000 : undefined;
      nodes.push({ id: 'kubelet back', after: { boot: 'the kubelet starts once the instance runs' }, span: booted ? { start: booted, end: booted + KUBELET_RECOVERY_SECONDS * 1000 } : undefined });
      nodes.push({ id: 'health check', after: { 'kubelet back': 'the node reports Ready once its kubelet is back' }, span: lastSpan(documentRuns(fleet, since, 'ClusterStatus')) });
    }
    return { name: `heal: ${scenario}`, origin, nodes };
  }
  // A warm standby was prepared and stopped before the failure: started, it boots with its agent registered.
  const started = fromStandby ? callSpan(fleet, since, 'StartInstances') : undefined;
  const startedId = fromStandby ? (fleet.calls.find((call) => call.at >= since && call.operation === 'StartInstances')?.input as { InstanceIds?: string[] } | undefined)?.InstanceIds?.[0] : undefined;
  const replacement = fromStandby
    ? (startedId ? fleet.instances.get(startedId) : undefined)
    : [...fleet.instances.values()].find((instance) => instance.launchTime.getTime() >= origin && instance.tags['kubeha:role'] === role);
  const status = documentRuns(fleet, since, 'ClusterStatus');
  const launch = callSpan(fleet, since, 'RunInstances', (input) => !('PrivateIpAddress' in input) || replacement === undefined || input.PrivateIpAddress === replacement.privateIp);
  const launched = fromStandby ? started : replacement ? { start: replacement.launchTime.getTime() - API_CALL_MS, end: replacement.launchTime.getTime() } : launch;
  if (role === 'master') nodes.push({ id: 'cluster status', after: decided, span: spanOf(status.slice(0, 1)) });
  // A master is replaced only once a healthy master has told how etcd stands; a worker or a load
  // balancer as soon as EC2 says it is gone.
  const decision = role === 'master' ? { 'cluster status': 'replace only what etcd reports lost' } : decided;
  const launchId = fromStandby ? 'claim and start the standby' : 'launch';
  nodes.push({ id: launchId, after: decision, span: launched });
  nodes.push(
    fromStandby
      ? { id: 'boot', after: { [launchId]: 'a stopped instance boots once started; its agent registered when it was prepared' }, span: launched ? { start: launched.end, end: launched.end + BOOT_SECONDS * 1000 } : undefined }
      : { id: 'boot', after: { launch: 'an instance boots once launched' }, span: replacement && launched ? { start: launched.end, end: (replacement.ssmRegisteredAt ?? launched.end) } : undefined },
  );
  const onReplacement = (invocation: Invocation) => invocation.instanceId === replacement?.instanceId;
  // A warm standby installed its prerequisites before it was stopped: the heal sends none (optional then).
  nodes.push({ id: 'prerequisites', after: { boot: 'documents run once the agent has registered' }, span: spanOf(documentRuns(fleet, since, 'InstallPrerequisites', onReplacement)), ...(fromStandby ? { optional: true } : {}) });
  if (role === 'master') {
    const join = documentRuns(fleet, since, 'JoinControlPlane', onReplacement);
    const version = join.at(-1)?.parameters.JoinSecretVersionId;
    nodes.push({ id: 'snapshot', after: decision, span: spanOf(documentRuns(fleet, since, 'SnapshotEtcd').slice(0, 1)) });
    nodes.push({ id: 'remove the dead member', after: { snapshot: 'etcd is saved before its membership changes' }, span: spanOf(documentRuns(fleet, since, 'RemoveEtcdMember').slice(0, 1)) });
    nodes.push({ id: 'certificate upload', after: decision, span: spanOf(documentRuns(fleet, since, 'RefreshJoinMaterial', (i) => i.parameters.JoinSecretVersionId === version)) });
    nodes.push({
      id: 'join',
      after: { prerequisites: 'kubeadm must be installed', 'certificate upload': 'the join downloads the certificates under its key', 'remove the dead member': 'a 3-member etcd with a dead member must not grow to 4' },
      span: spanOf(join.slice(-1)),
    });
  } else if (role === 'worker') {
    const join = documentRuns(fleet, since, 'JoinWorker', onReplacement);
    const version = join.at(-1)?.parameters.JoinSecretVersionId;
    nodes.push({ id: 'remove the dead Node', after: decision, span: spanOf(documentRuns(fleet, since, 'RemoveEtcdMember').slice(0, 1)), optional: true });
    nodes.push({ id: 'token', after: decision, span: spanOf(documentRuns(fleet, since, 'RefreshJoinMaterial', (i) => i.parameters.JoinSecretVersionId === version)) });
    const profile = documentRuns(fleet, since, 'ApplyNodeProfile', onReplacement);
    if (profile.length > 0) nodes.push({ id: 'mounts', after: { prerequisites: 'the GlusterFS client is installed with the prerequisites' }, span: spanOf(profile.slice(-1)) });
    nodes.push({
      id: 'join',
      after: { prerequisites: 'kubeadm must be installed', token: 'the join authenticates with the token', ...(profile.length > 0 ? { mounts: 'a worker is never Ready without its volumes' } : {}) },
      span: spanOf(join.slice(-1)),
    });
  }
  const pointed = documentRuns(fleet, since, 'ConfigureLoadBalancer');
  nodes.push({
    id: 'configure the load balancers',
    after: role === 'lb' ? { prerequisites: 'nginx and keepalived must be installed' } : { [launchId]: `the replacement's address is known once it is ${fromStandby ? 'claimed' : 'launched'}` },
    span: spanOf(pointed),
    optional: role !== 'lb',
  });
  if (role !== 'lb') {
    // The join reports the node's own health when it ends (join-node.sh, report_joined): a healthy master
    // is asked only when that report found the node not yet Ready.
    nodes.push({
      id: 'health check',
      after: { join: 'the node reports once it has joined', 'configure the load balancers': 'the API is reached through the load balancers' },
      span: lastSpan(status.filter((invocation) => invocation.startedAt >= (spanOf(documentRuns(fleet, since, role === 'master' ? 'JoinControlPlane' : 'JoinWorker', onReplacement).slice(-1))?.end ?? Infinity))),
      optional: true,
    });
  }
  return { name: `heal: ${scenario}`, origin, nodes };
}

/**
 * A health check as the node's state is read: the simulator reads the cluster when the document ends
 * (sim/ssm.ts, complete), so the check depends on what held in its last second, not at its sending.
 */
function lastSpan(invocations: readonly Invocation[]): Span | undefined {
  const span = spanOf(invocations.slice(-1));
  return span ? { start: span.end - 1000, end: span.end } : undefined;
}


// ---- the bound and the check -------------------------------------------------------------------

/** Nodes that ran, with edges through skipped optional nodes carried over to their predecessors. */
function present(dag: Dag): Map<string, { node: DagNode; after: Set<string> }> {
  const byId = new Map(dag.nodes.map((node) => [node.id, node]));
  const missing = dag.nodes.filter((node) => !node.span && !node.optional).map((node) => node.id);
  if (missing.length > 0) throw new Error(`${dag.name}: the run shows no trace of ${missing.join(', ')}`);
  const resolve = (id: string, seen = new Set<string>()): string[] => {
    const node = byId.get(id);
    if (!node) throw new Error(`${dag.name}: an edge names ${id}, which is no node`);
    if (node.span) return [id];
    if (seen.has(id)) return [];
    seen.add(id);
    return Object.keys(node.after).flatMap((previous) => resolve(previous, seen));
  };
  const result = new Map<string, { node: DagNode; after: Set<string> }>();
  for (const node of dag.nodes) if (node.span) result.set(node.id, { node, after: new Set(Object.keys(node.after).flatMap((previous) => resolve(previous))) });
  return result;
}

export interface CriticalPath {
  /** Seconds from the origin to the end of the last node, if every node started as soon as the DAG allows. */
  readonly seconds: number;
  /** The nodes on the longest path, first to last. */
  readonly path: string[];
}

/** The longest path through the DAG, each node lasting what it lasted in the run. */
export function criticalPath(dag: Dag): CriticalPath {
  const nodes = present(dag);
  const finish = new Map<string, { at: number; via?: string }>();
  const visit = (id: string, stack: string[] = []): number => {
    const known = finish.get(id);
    if (known) return known.at;
    if (stack.includes(id)) throw new Error(`${dag.name}: cycle through ${[...stack, id].join(' -> ')}`);
    const { node, after } = nodes.get(id)!;
    let start = dag.origin;
    let via: string | undefined;
    for (const previous of after) {
      const end = visit(previous, [...stack, id]);
      if (end > start) [start, via] = [end, previous];
    }
    const at = start + (node.span!.end - node.span!.start);
    finish.set(id, via ? { at, via } : { at });
    return at;
  };
  let last: string | undefined;
  let end = dag.origin;
  for (const id of nodes.keys()) {
    const at = visit(id);
    if (at > end) [end, last] = [at, id];
  }
  const path: string[] = [];
  for (let id = last; id; id = finish.get(id)?.via) path.unshift(id);
  return { seconds: (end - dag.origin) / 1000, path };
}

export interface OrderViolation {
  readonly before: string;
  readonly after: string;
  readonly why: string;
  readonly bySeconds: number;
}

/** Every edge of the DAG the recorded run broke: a node that started before a predecessor ended. */
export function checkOrder(dag: Dag): OrderViolation[] {
  const nodes = present(dag);
  const violations: OrderViolation[] = [];
  for (const [id, { node, after }] of nodes) {
    for (const previous of after) {
      const earlier = nodes.get(previous)!.node.span!;
      if (node.span!.start < earlier.end) {
        violations.push({ before: previous, after: id, why: node.after[previous] ?? 'through a skipped step', bySeconds: (earlier.end - node.span!.start) / 1000 });
      }
    }
  }
  return violations;
}

/** The nominal duration of a document in the model, for explanations beside the measured bound. */
export function nominalSeconds(document: string): number {
  return DOCUMENT_SECONDS[document] ?? 10;
}
