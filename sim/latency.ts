// The modelled durations of the simulated fleet, in seconds of modelled time. They follow what a
// t3.medium on Ubuntu 24.04 takes (apt installs dominate prerequisites; kubeadm init waits for
// the static pods; a control-plane join includes etcd learner promotion).

export const DOCUMENT_SECONDS: Readonly<Record<string, number>> = {
  InstallPrerequisites: 95,
  ConfigureLoadBalancer: 9,
  ConfigureNodeProxy: 3,
  InitFirstMaster: 80,
  InstallCni: 30,
  RefreshJoinMaterial: 6,
  JoinControlPlane: 65,
  JoinWorker: 35,
  VerifyCluster: 12,
  ClusterStatus: 3,
  RemoveEtcdMember: 4,
  SnapshotEtcd: 8,
  ResetNode: 6,
  CheckLoadBalancer: 2,
  ProbeLoadBalancer: 2,
  DeployTestApp: 20,
  StartProbe: 2,
  StopProbe: 2,
  ApplyNodeProfile: 8,
  CheckExternalServices: 3,
  GrantUserAccess: 4,
  RevokeUserAccess: 3,
  ApplyEncryptionConfig: 10,
  RewriteSecrets: 10,
};

/** InstallPrerequisites on a node that has the pinned packages already: the script checks and exits. */
export const ALREADY_INSTALLED_SECONDS = 4;

/** What one AWS API round trip costs in modelled time. */
export const API_CALL_SECONDS = 0.12;

/** Deterministic jitter (±15 %) so runs are repeatable but not lock-step. */
export function jittered(seconds: number, random: () => number): number {
  return seconds * (0.85 + random() * 0.3);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fleet timings. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
