// Certificate expiry: kubeadm signs each master's leaf certificates (API server, etcd server/peer/client,
// front-proxy client, the client certificates in admin.conf, controller-manager.conf, scheduler.conf)
// for one year at its init or join; only `kubeadm certs renew` or `kubeadm upgrade` renews them, so a
// cluster that is never upgraded loses its control plane on the anniversary (kubeadm#2652). Reconcile
// reads each master's earliest expiry from ClusterStatus (cluster-status.sh runs `kubeadm certs
// check-expiration -o json`) and acts when one comes within the cluster's threshold.
import type { ClusterInstance } from './cluster.js';

/** cluster-status.sh's `certificates`: this master's earliest leaf and CA expiry (RFC 3339 UTC), null when kubeadm could not tell. */
export interface CertificateExpiry {
  readonly leaf: { readonly name: string; readonly expiresAt: string } | null;
  readonly ca: { readonly name: string; readonly expiresAt: string } | null;
}

/** What reconcile remembers of one master's certificates. */
export interface MasterCertificates {
  /** When reconcile last asked this master (answered or not): the next ask waits CERTIFICATE_CHECK_INTERVAL_MS. */
  readonly checkedAt: number;
  readonly leaf?: { readonly name: string; readonly expiresAt: string } | undefined;
  readonly ca?: { readonly name: string; readonly expiresAt: string } | undefined;
}

export interface CertificateState {
  readonly masters: Record<string, MasterCertificates>;
  /**
   * instanceId -> the expiry a human was told about: told once per certificate period (a renewal gives a
   * new expiry, and with it a new period), not on every 5-minute run.
   */
  readonly told: Record<string, string>;
}

export const CERTIFICATES_STATE_KEY = 'certificates';
export const EMPTY_CERTIFICATE_STATE: CertificateState = { masters: {}, told: {} };
/** Certificates change only when renewed: each master is asked a few times a day, not on every run. */
export const CERTIFICATE_CHECK_INTERVAL_MS = 6 * 3600_000;
export const DEFAULT_CERTIFICATE_RENEWAL_DAYS = 30;
const DAY_MS = 86_400_000;

/** Is this master's expiry unknown or older than the check interval? */
export function certificateCheckDue(state: CertificateState, instanceId: string, now: number): boolean {
  const known = state.masters[instanceId];
  return !known || now - known.checkedAt >= CERTIFICATE_CHECK_INTERVAL_MS;
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
    };
  }
  const told = Object.fromEntries(Object.entries(state.told).filter(([instanceId]) => running.has(instanceId)));
  return { masters: next, told };
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
    if (left <= thresholdDays * DAY_MS) expiring.push({ instanceId: master.instanceId, privateIp: master.privateIp ?? '', name: leaf.name, expiresAt: leaf.expiresAt, daysLeft: Math.floor(left / DAY_MS) });
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
