// Certificate expiry: kubeadm signs each master's leaf certificates (API server, etcd server/peer/client,
// front-proxy client, the client certificates in admin.conf, controller-manager.conf, scheduler.conf)
// for one year at its init or join; only `kubeadm certs renew` or `kubeadm upgrade` renews them, so a
// cluster that is never upgraded loses its control plane on the anniversary (kubeadm#2652). Reconcile
// reads each master's earliest expiry from ClusterStatus (cluster-status.sh runs `kubeadm certs
// check-expiration -o json`) and acts when one comes within the cluster's threshold.
import type { ClusterInstance } from './cluster.js';
import { CertificateRenewalError, NodeNotReadyError, QuorumLostError } from './errors.js';
import type { EtcdMemberView } from './healing-decisions.js';
import type { ClusterStatusReport } from './healing-steps.js';

/** cluster-status.sh's `certificates`: this master's earliest leaf and CA expiry (RFC 3339 UTC), null when kubeadm could not tell. */
export interface CertificateExpiry {
  readonly leaf: { readonly name: string; readonly expiresAt: string } | null;
  readonly ca: { readonly name: string; readonly expiresAt: string } | null;
  /**
   * A static pod on this master started before its newest renewed certificate file, and holds an old client
   * certificate until it restarts (a renewal that died between `kubeadm certs renew all` and the restart);
   * null when crictl could not tell, absent from an older script.
   */
  readonly restartPending?: boolean | null;
}

/** What reconcile remembers of one master's certificates. */
export interface MasterCertificates {
  /** When reconcile last asked this master (answered or not): the next ask waits CERTIFICATE_CHECK_INTERVAL_MS. */
  readonly checkedAt: number;
  readonly leaf?: { readonly name: string; readonly expiresAt: string } | undefined;
  readonly ca?: { readonly name: string; readonly expiresAt: string } | undefined;
  /** The master's last answer said a static pod still runs from before its certificates were renewed. */
  readonly restartPending?: boolean | undefined;
}

export interface CertificateState {
  readonly masters: Record<string, MasterCertificates>;
  /**
   * instanceId (or `ca:<name>` for a certificate authority) -> the expiry a human was told about: told once per certificate period (a renewal gives a
   * new expiry, and with it a new period), not on every 5-minute run.
   */
  readonly told: Record<string, string>;
  /**
   * instanceId -> `<expiry>@<YYYYMMDD>`: the expiry a renewal was last started for, and the UTC day. One
   * attempt a day: a renewal that fails tells a human itself and is tried again the next day, not every
   * 5 minutes; a master renewed since has a new expiry, and a new period.
   */
  readonly renewing?: Record<string, string>;
  /** instanceId -> the UTC day (YYYYMMDD) a human was last warned that it is urgent or a renewal failed: once a day. */
  readonly warned?: Record<string, string>;
}

export const CERTIFICATES_STATE_KEY = 'certificates';
/** The `told` key prefix of a certificate authority (shared by every master, kept whichever masters run). */
export const CA_TOLD_PREFIX = 'ca:';
export const EMPTY_CERTIFICATE_STATE: CertificateState = { masters: {}, told: {}, renewing: {}, warned: {} };
/** Certificates change only when renewed: each master is asked a few times a day, not on every run. */
export const CERTIFICATE_CHECK_INTERVAL_MS = 6 * 3600_000;
export const DEFAULT_CERTIFICATE_RENEWAL_DAYS = 30;
const DAY_MS = 86_400_000;

/** Within the window with renewal off, nothing kubeha does changes the certificates: asked hourly, to see a human's renewal. */
export const CERTIFICATE_WINDOW_CHECK_INTERVAL_MS = 3600_000;

/**
 * Is this master's expiry unknown, older than the check interval, or within the window? Within the window
 * it is asked on every run while kubeha renews (renew), so that its renewal is seen at once; hourly when
 * only a human renews.
 */
export function certificateCheckDue(state: CertificateState, instanceId: string, now: number, thresholdDays: number, renew = true): boolean {
  const known = state.masters[instanceId];
  if (!known || now - known.checkedAt >= CERTIFICATE_CHECK_INTERVAL_MS) return true;
  const within = (known.leaf !== undefined && Date.parse(known.leaf.expiresAt) - now <= thresholdDays * DAY_MS) || known.restartPending === true;
  return within && (renew || now - known.checkedAt >= CERTIFICATE_WINDOW_CHECK_INTERVAL_MS);
}

/** The state after this run's answers: each asked master's new expiry (kept when it did not answer); gone masters forgotten. */
export function recordCertificates(
  state: CertificateState,
  masters: readonly ClusterInstance[],
  asked: readonly string[],
  answers: Readonly<Record<string, CertificateExpiry | null>>,
  now: number,
): CertificateState {
  const running = new Set(masters.map((master) => master.instanceId));
  const next: Record<string, MasterCertificates> = {};
  for (const [instanceId, known] of Object.entries(state.masters)) if (running.has(instanceId)) next[instanceId] = known;
  for (const instanceId of asked) {
    const answer = answers[instanceId];
    const previous = next[instanceId];
    next[instanceId] = {
      checkedAt: now,
      ...(answer?.leaf ? { leaf: answer.leaf } : previous?.leaf ? { leaf: previous.leaf } : {}),
      ...(answer?.ca ? { ca: answer.ca } : previous?.ca ? { ca: previous.ca } : {}),
      ...((answer ? answer.restartPending === true : previous?.restartPending) ? { restartPending: true } : {}),
    };
  }
  // `ca:<name>` keys are the cluster's CAs (planCertificates), not masters: kept, or a CA close to expiry
  // would be told of again on every 5-minute run.
  const told = Object.fromEntries(Object.entries(state.told).filter(([key]) => key.startsWith(CA_TOLD_PREFIX) || running.has(key)));
  const renewing = Object.fromEntries(Object.entries(state.renewing ?? {}).filter(([instanceId]) => running.has(instanceId)));
  const warned = Object.fromEntries(Object.entries(state.warned ?? {}).filter(([instanceId]) => running.has(instanceId)));
  return { masters: next, told, renewing, warned };
}

/** A master whose earliest leaf certificate expires within the threshold (or has expired). */
export interface ExpiringMaster {
  readonly instanceId: string;
  readonly privateIp: string;
  readonly name: string;
  readonly expiresAt: string;
  readonly daysLeft: number;
}

export function expiringMasters(state: CertificateState, masters: readonly ClusterInstance[], thresholdDays: number, now: number): ExpiringMaster[] {
  const expiring: ExpiringMaster[] = [];
  for (const master of masters) {
    const leaf = state.masters[master.instanceId]?.leaf;
    if (!leaf) continue;
    const left = Date.parse(leaf.expiresAt) - now;
    // Renewed files a static pod has not loaded yet count as due: the renewal's restart is what is missing.
    if (left <= thresholdDays * DAY_MS || state.masters[master.instanceId]?.restartPending) expiring.push({ instanceId: master.instanceId, privateIp: master.privateIp ?? '', name: leaf.name, expiresAt: leaf.expiresAt, daysLeft: Math.floor(left / DAY_MS) });
  }
  return expiring.sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
}

/** CAs last ten years and kubeha does not renew them (a CA rotation is a cluster-wide change): a human is told. */
export function expiringAuthorities(state: CertificateState, masters: readonly ClusterInstance[], thresholdDays: number, now: number): { instanceId: string; name: string; expiresAt: string }[] {
  return masters.flatMap((master) => {
    const ca = state.masters[master.instanceId]?.ca;
    return ca && Date.parse(ca.expiresAt) - now <= thresholdDays * DAY_MS ? [{ instanceId: master.instanceId, ...ca }] : [];
  });
}

// ---- the renewal workflow's decisions (renew-certificates.asl.yaml, functions/assess-certificates.ts) ----

/** Days the renewal window may span: a renewed certificate (365 days) must leave it, or every run would renew again. */
export const MAX_RENEWAL_DAYS = 364;

/** How restarting one master's etcd member leaves quorum. */
export interface RestartQuorum {
  /** Voting members (a learner does not vote). */
  readonly voters: number;
  /** floor(voters/2)+1: what etcd needs to commit anything. */
  readonly quorum: number;
  /** Healthy voting members other than the one restarting. */
  readonly healthyOthers: number;
}

/**
 * May this master's etcd member stop for a restart? A restart, unlike a removal (assessQuorum), keeps the
 * member: the cluster still has N voting members and still needs floor(N/2)+1 of them, so the healthy
 * voters besides the target must be that many. With one or two voters that is never so (two voters need
 * both): the restart takes etcd down, which is downtime a human decides on (QuorumLostError).
 */
export function assessRestartQuorum(members: readonly EtcdMemberView[], targetIp: string): RestartQuorum {
  const voters = members.filter((member) => !member.isLearner);
  const quorum = Math.floor(voters.length / 2) + 1;
  const healthyOthers = voters.filter((member) => member.peerIp !== targetIp && member.healthy).length;
  if (voters.length <= 2) {
    throw new QuorumLostError(
      `etcd has ${voters.length} voting member${voters.length === 1 ? '' : 's'}, which all must run for a quorum: restarting ${targetIp}'s member takes etcd down, so renewing its certificates needs downtime a human decides on`,
    );
  }
  if (healthyOthers < quorum) {
    throw new QuorumLostError(`etcd has ${healthyOthers} healthy voting members besides ${targetIp}, ${quorum} needed for a quorum of ${voters.length}: restarting it now would stop etcd`);
  }
  return { voters: voters.length, quorum, healthyOthers };
}

export type RenewalVerdict = { readonly renew: false; readonly expiresAt: string } | { readonly renew: true; readonly expiresAt: string };

/**
 * Before a master's renewal: skip it when its certificates expire beyond the window (renewed already; the
 * decision is the expiry, not a marker), else renew only if restarting it leaves etcd a quorum of
 * healthy voters (assessRestartQuorum) and every other master's Node Ready (QuorumLostError otherwise: a human decides).
 */
export function assessBeforeRenewal(status: ClusterStatusReport, ip: string, renewWithinDays: number, now: number): RenewalVerdict {
  const leaf = status.certificates?.leaf;
  if (!leaf) throw new CertificateRenewalError(`the master at ${ip} did not report its certificates (kubeadm certs check-expiration failed there)`);
  // Renewed but not restarted (a run that died in between): renewed again it is not, restarted it is
  // (renew-certificates.sh restarts while restartPending), so it goes through the same guard.
  if (Date.parse(leaf.expiresAt) > now + renewWithinDays * DAY_MS && status.certificates?.restartPending !== true) return { renew: false, expiresAt: leaf.expiresAt };
  assessRestartQuorum(status.members, ip);
  const notReady = status.nodes.filter((node) => node.controlPlane && node.internalIp !== ip && !node.ready);
  if (notReady.length > 0) throw new QuorumLostError(`masters ${notReady.map((node) => node.name).join(', ')} are not Ready: restarting ${ip}'s API server now would leave too few`);
  return { renew: true, expiresAt: leaf.expiresAt };
}

export type RenewedVerdict = { readonly healthy: true; readonly expiresAt: string } | { readonly healthy: false; readonly reason: string };

/**
 * After a master's renewal: its etcd member healthy, its Node Ready and its certificates beyond the window
 * (CertificateRenewalError if not: renewing again would not help). Not healthy yet: wait, until the deadline
 * (NodeNotReadyError: the master did not come back).
 */
export function assessAfterRenewal(status: ClusterStatusReport, ip: string, renewWithinDays: number, deadline: number, now: number): RenewedVerdict {
  const leaf = status.certificates?.leaf;
  if (leaf && Date.parse(leaf.expiresAt) <= now + renewWithinDays * DAY_MS) {
    throw new CertificateRenewalError(`the certificates of the master at ${ip} still expire at ${leaf.expiresAt} (${leaf.name}) after renewal`);
  }
  const member = status.members.find((candidate) => candidate.peerIp === ip);
  const node = status.nodes.find((candidate) => candidate.internalIp === ip);
  const reason = !member ? `no etcd member has address ${ip}` : !member.healthy ? `etcd member ${member.name} is not healthy` : !node?.ready ? `the Node at ${ip} is not Ready` : !leaf ? `the master at ${ip} did not report its certificates` : status.certificates?.restartPending !== false ? `static pods of the master at ${ip} still run from before the renewal (or crictl could not tell)` : undefined;
  if (!reason && leaf) return { healthy: true, expiresAt: leaf.expiresAt };
  if (now > deadline) throw new NodeNotReadyError(`the master at ${ip} did not come back after its certificates were renewed: ${reason ?? 'unknown'}`);
  return { healthy: false, reason: reason ?? 'unknown' };
}
