// Following a long execution: which phase it is in, how far along, which instance is where. The same
// model feeds a redrawn block on a terminal and plain lines elsewhere (CI logs, pipes).
import { createLogUpdate } from 'log-update';
import type { ClusterInstance } from '../functions/core/cluster.js';
import { type Output, type Terminal, duration, fit } from './format.js';

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

/** The phases of a state machine the CLI has no finer map of: each state is a step of its own. */
export const SINGLE_PHASE = (name: string): readonly { name: string; states: RegExp }[] => [{ name, states: /./ }];

/**
 * A block of lines redrawn in place on a terminal. log-update erases what it drew by the rows the
 * terminal shows, and each line is cut one column short of the window's width, so the terminal
 * never wraps one and nothing is left behind at any width. A window that narrows is the one case
 * log-update cannot know about: terminals that reflow (VTE, iTerm2, Windows Terminal, xterm.js) turn
 * each long line of the last block into several rows. So on a narrowing the block is erased from
 * where its first row is now, to the end of the screen, before it is drawn again.
 */
export class LiveRegion {
  private readonly live: ReturnType<typeof createLogUpdate>;
  private readonly stopResizing: () => void;
  private frame: string[] = [];
  private drawnAtColumns = 0;

  constructor(
    private readonly out: Pick<Output, 'write'>,
    private readonly terminal: Terminal,
  ) {
    this.live = createLogUpdate(
      {
        write: (text: string) => {
          out.write(text);
          return true;
        },
        get columns() {
          return terminal.columns();
        },
        get rows() {
          return terminal.rows();
        },
        isTTY: true,
      } as unknown as NodeJS.WriteStream,
      { showCursor: true },
    );
    this.stopResizing = terminal.onResize(() => this.redraw());
  }

  draw(lines: readonly string[]): void {
    const columns = this.terminal.columns();
    this.frame = lines.map((line) => fit(line, Math.max(20, columns - 1)));
    this.drawnAtColumns = columns;
    this.live(this.frame.join('\n'));
  }

  private redraw(): void {
    const columns = this.terminal.columns();
    if (this.frame.length > 0 && columns < this.drawnAtColumns) {
      const rows = this.frame.reduce((sum, line) => sum + Math.max(1, Math.ceil(line.length / columns)), 0);
      this.out.write(`\r\u001b[${rows}A\u001b[J`);
      // What log-update drew is gone: it starts afresh.
      this.live.done();
    }
    if (this.frame.length > 0) this.draw(this.frame);
  }

  /** Leaves the last block on the screen and stops redrawing. */
  close(): void {
    this.stopResizing();
    this.live.done();
  }
}

/**
 * On a terminal, the phase, the state and every instance, redrawn in place (LiveRegion). Elsewhere
 * (CI logs, pipes, --no-progress) a line for each new phase and each new state.
 */
export class ProgressView {
  private phase = 0;
  private state = '';
  private printedPhase = -1;
  private readonly printed = new Set<string>();
  private instances: readonly ClusterInstance[] = [];
  private readonly live: LiveRegion | undefined;

  constructor(
    private readonly out: Output,
    private readonly title: string,
    private readonly phases: readonly { name: string; states: RegExp }[],
    private readonly elapsed: () => number,
  ) {
    if (out.isTTY && out.terminal) this.live = new LiveRegion(out, out.terminal);
  }

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
    const total = this.phases.length;
    const phase = this.phases[this.phase]?.name ?? 'finished';
    const clock = duration(this.elapsed());
    if (!this.live) {
      if (this.state === 'done' || !this.state) return;
      // Each state once: poll loops enter the same few states over and over.
      if (this.phase !== this.printedPhase && this.phase < total) this.out.write(`[${clock}] ${this.phase + 1}/${total} ${phase}\n`);
      if (!this.printed.has(this.state)) this.out.write(`[${clock}]      ${this.state}\n`);
      this.printedPhase = this.phase;
      this.printed.add(this.state);
      return;
    }
    const barWidth = 24;
    const filled = Math.round((this.phase / total) * barWidth);
    const block = [
      `${this.title}  ${clock} elapsed`,
      `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${Math.min(this.phase, total)}/${total} done  ${phase}`,
      `  ${this.state}`,
      ...this.instances
        .filter((instance) => instance.ec2State !== 'terminated')
        .map((instance) => `  ${(instance.role ?? '?').padEnd(6)} ${instance.instanceId.padEnd(19)} ${(instance.privateIp ?? '').padEnd(15)} ${(instance.availabilityZone ?? '').padEnd(10)} ${instance.ec2State.padEnd(8)} ${instance.nodeState ?? 'new'}`),
    ];
    this.live.draw(block);
  }

  /** Leaves the last block on the screen and stops redrawing. */
  close(): void {
    this.live?.close();
  }
}
