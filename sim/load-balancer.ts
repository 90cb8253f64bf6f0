// keepalived on the load-balancer pair, as the simulator models it: when the load balancer holding the Elastic IP
// goes away, its peer's keepalived notices and its notify script asks EC2 for the address itself, before and
// independently of the EventBridge-driven healing. How long it takes to notice comes from measurements, not a
// constant: sim/load-balancer-timings.json holds what bench/load-balancer.ts measured with real keepalived and
// nginx (its provenance block says which run, versions and date; `KUBEHA_LB_WRITE_SIM=1 npm run bench:lb` rewrites it).
// A stopped or terminated instance shuts down cleanly, so systemd stops keepalived with SIGTERM, which sends a
// priority-0 advertisement (keepalived vrrp/vrrp.c: the BACKUP then waits only its skew): the graceful-stop samples.
import timings from './load-balancer-timings.json' with { type: 'json' };

export type LoadBalancerFailure = keyof typeof timings.detectionSeconds;

/** The measured samples of one kind of failure, in seconds from the fault to the peer's associate-address call. */
export function detectionSamples(failure: LoadBalancerFailure): readonly number[] {
  return timings.detectionSeconds[failure];
}

/**
 * One measured detection time for this failure, chosen by `key` (the failed instance and the moment), so that
 * runs are repeatable and the fleet's random stream, which hands out identifiers, is left alone.
 */
export function keepalivedDetectionSeconds(failure: LoadBalancerFailure, key: string): number {
  const samples = detectionSamples(failure);
  if (samples.length === 0) throw new Error(`sim/load-balancer-timings.json has no ${failure} samples`);
  let hash = 0;
  for (const character of key) hash = (Math.imul(hash, 31) + character.charCodeAt(0)) >>> 0;
  return samples[hash % samples.length]!;
}

/** A claim of the Elastic IP that a peer's keepalived will make at a modelled moment. */
export interface KeepalivedClaim {
  readonly allocationId: string;
  readonly instanceId: string;
  readonly atMs: number;
}
