// Following a long execution: which phase it is in, how far along, which instance is where. The same
// model feeds a redrawn block on a terminal and plain lines elsewhere (CI logs, pipes).
import type { ClusterInstance } from '../functions/core/cluster.js';
import { duration } from './format.js';
import type { Output } from './format.js';

/** The phases of bootstrap-cluster, and the state names that belong to each. */
export const BOOTSTRAP_PHASES: readonly { name: string; states: RegExp }[] = [
  { name: 'Validate the input', states: /^Validate the input$/ },
  { name: 'Discover the instances', states: /^Discover the tagged instances$/ },
  { name: 'Preflight', states: /^Can these instances host the cluster\?$/ },
  { name: 'Prerequisites', states: /prerequisites|This batch is prepared/ },
  { name: 'Load balancers', states: /load balancers/ },
  { name: 'Elastic IP', states: /Elastic IP/ },
  { name: 'First master', states: /^Mint join material$|kubeadm init|first master|CA certificate/ },
  { name: 'CNI', states: /CNI/ },
  { name: 'Masters, one at a time', states: /master|certificate upload|certificates|control plane/ },
  { name: 'Workers', states: /worker|batch|token/ },
  { name: 'Verify', states: /verif|healthy\?$/ },
  { name: 'Record and summarize', states: /^Record the cluster and summarize$/ },
];

export const DRILL_PHASES: readonly { name: string; states: RegExp }[] = [
  { name: 'Choose the target', states: /^Choose the target/ },
  { name: 'Check the cluster', states: /before the drill|Can the cluster take/ },
  { name: 'Deploy the test application', states: /test application/ },
  { name: 'Start the probe', states: /^Start the probe$/ },
  { name: 'Break the target', states: /^Break the target$/ },
  { name: 'Wait for healing', states: /healing|healed|only stopped|stopped target/ },
  { name: 'Read the probe', states: /probe and read/ },
  { name: 'Report', states: /^Report the drill$/ },
];

export interface ProgressEvent {
  readonly kind: 'entered' | 'succeeded' | 'failed';
  readonly state?: string;
  readonly error?: string;
  readonly cause?: string;
}

export class ProgressView {
  private phase = 0;
  private state = '';
  private lines = 0;
  private readonly printed = new Set<string>();
  private instances: readonly ClusterInstance[] = [];

  constructor(
    private readonly out: Output,
    private readonly title: string,
    private readonly phases: readonly { name: string; states: RegExp }[],
    private readonly elapsed: () => number,
  ) {}

  /** Moves the phase forward (never back: poll loops revisit earlier-sounding states). */
  onEvent(event: ProgressEvent): void {
    if (event.kind !== 'entered' || !event.state) return;
    this.state = event.state;
    const index = this.phases.findIndex((phase, position) => position >= this.phase && phase.states.test(event.state ?? ''));
    if (index >= 0) this.phase = index;
  }

  /** Marks every phase done (the execution succeeded). */
  finish(): void {
    this.phase = this.phases.length;
    this.state = 'done';
  }

  /** The latest view of the instances, shown under the progress bar on a terminal. */
  setInstances(instances: readonly ClusterInstance[]): void {
    this.instances = instances;
  }

  render(): void {
    const instances = this.instances;
    const done = this.phase;
    const total = this.phases.length;
    const phase = this.phases[this.phase]?.name ?? 'finished';
    const clock = duration(this.elapsed());
    if (!this.out.isTTY) {
      // Each state once: poll loops enter the same few states over and over.
      if (this.state && !this.printed.has(this.state)) this.out.write(`[${clock}] ${Math.min(done + 1, total)}/${total} ${phase}: ${this.state}\n`);
      this.printed.add(this.state);
      return;
    }
    const width = 24;
    const filled = Math.round((done / total) * width);
    const block = [
      `${this.title}  ${done}/${total} done  ${clock} elapsed`,
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${phase} - ${this.state}`,
      ...instances
        .filter((instance) => instance.ec2State !== 'terminated')
        .map((instance) => `  ${(instance.role ?? '?').padEnd(6)} ${instance.instanceId.padEnd(19)} ${(instance.privateIp ?? '').padEnd(15)} ${(instance.availabilityZone ?? '').padEnd(11)} ${instance.ec2State.padEnd(8)} ${instance.nodeState ?? 'new'}`),
    ];
    // Redraw in place: up over the previous block, clear each line.
    const up = this.lines > 0 ? `\u001b[${this.lines}A` : '';
    this.out.write(`${up}${block.map((line) => `\u001b[2K${line}`).join('\n')}\n`);
    this.lines = block.length;
  }
}
