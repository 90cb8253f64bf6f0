// The whole control plane, locally: EventBridge delivers EC2 state changes to the real handler, and
// the executions it starts run the real ASL (concurrently, as Step Functions would) against the fleet.
import { createRequire } from 'node:module';
import { resetEnvironmentForTesting } from '../functions/adapters/index.js';
import { handlers } from '../functions/registry.js';
import { asFunction } from './handler-time.js';
import { installFleet } from './aws.js';
import { LOCAL_STAGE, type SimExecution, type SimulatedFleet } from './fleet.js';
import { eventBridgeDeliveryDelays, seededRandom } from './latency.js';
import { ModelledTime } from './modelled-time.js';
import { type EventLog, type LocalRun, runStateMachine } from './state-machine.js';

const { documentDigest } = createRequire(import.meta.url)('../ssm-documents/render.cjs') as { documentDigest(): string };
/** The local stack "deploys" this checkout's documents, named with their digest as the real stack does. */
export const LOCAL_DOCUMENT_SUFFIX = `-${documentDigest()}`;

export const LOCAL_STATE_MACHINE_PREFIX = 'arn:aws:states:eu-west-1:123456789012:stateMachine:kubeha-local-';

const ENVIRONMENT = {
  KUBEHA_STAGE: LOCAL_STAGE,
  KUBEHA_DOCUMENT_PREFIX: 'kubeha-local-',
  KUBEHA_DOCUMENT_SUFFIX: LOCAL_DOCUMENT_SUFFIX,
  AWS_REGION: 'eu-west-1',
  KUBEHA_STATE_MACHINE_ARN_PREFIX: LOCAL_STATE_MACHINE_PREFIX,
  KUBEHA_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:kubeha-local-alerts',
  KUBEHA_SNAPSHOT_BUCKET: 'kubeha-local-etcd-snapshots-123456789012',
};

export interface DeliveredEvent {
  readonly id: string;
  readonly outcome: unknown;
}

export class LocalControlPlane {
  readonly runs = new Map<string, LocalRun>();
  /** Executions running now: Step Functions runs them at once and side by side, and so does this. */
  private readonly inflight = new Map<string, Promise<void>>();
  private autoRun = false;
  private uninstall: (() => void) | undefined;
  private savedEnvironment: Record<string, string | undefined> = {};
  private eventSequence = 0;
  private deliveries = 0;
  private readonly time: ModelledTime;
  private readonly eventRandom = seededRandom(17);
  /** Listeners for one execution's events, by execution ARN: how the CLI follows a simulated run. */
  readonly listeners = new Map<string, (event: EventLog) => void>();

  constructor(
    readonly fleet: SimulatedFleet,
    readonly clusters: readonly string[] = ['demo'],
  ) {
    this.time = new ModelledTime(fleet);
  }

  start(): this {
    const environment: Record<string, string> = { ...ENVIRONMENT, KUBEHA_CLUSTERS: this.clusters.join(',') };
    for (const [key, value] of Object.entries(environment)) {
      this.savedEnvironment[key] = process.env[key];
      process.env[key] = value;
    }
    resetEnvironmentForTesting();
    this.fleet.deployedDocumentSuffix = LOCAL_DOCUMENT_SUFFIX;
    this.uninstall = installFleet(this.fleet);
    this.fleet.executionStartedHooks.push((execution) => {
      if (this.autoRun) this.launch(execution);
    });
    return this;
  }

  /**
   * Lets the API calls of concurrent executions overlap in modelled time, as they do against AWS
   * (sim/fleet.ts, callLatency), instead of each call moving the world's clock. What the bench's time
   * figures need; off by default because every call then waits for the discrete-event clock (a few ms
   * of wall time each), which long randomized suites cannot afford.
   */
  overlapCalls(): this {
    this.fleet.callLatency = (seconds) => this.time.sleep(seconds);
    return this;
  }

  /**
   * Plays EventBridge: every EC2 state change of the fleet is delivered to the event handler, as the
   * rule in serverless.yml does. Off by default, so tests can deliver events by hand.
   */
  enableEventBridge(): this {
    this.fleet.stateChangeHooks.push((instanceId, state) => {
      const id = `evt-${(this.eventSequence += 1).toString().padStart(6, '0')}`;
      const occurredAt = this.fleet.now();
      for (const delay of this.deliveryDelays()) {
        const key = `event-${(this.deliveries += 1)}`;
        const delivery = this.time
          .sleep(delay)
          .then(() => this.deliver(instanceId, state, id, occurredAt))
          .then(
            () => undefined,
            () => undefined,
          );
        this.inflight.set(key, delivery.finally(() => this.inflight.delete(key)));
      }
    });
    return this;
  }

  /**
   * When EventBridge delivers one event, in modelled seconds: at least once, usually within seconds,
   * sometimes minutes late, sometimes twice (same id), so events about one instance arrive out of order
   * (shared/reality.md, "EC2 state-change events").
   */
  private deliveryDelays(): number[] {
    return eventBridgeDeliveryDelays(this.eventRandom);
  }

  private launch(execution: SimExecution): void {
    if (this.inflight.has(execution.executionArn) || execution.status !== 'PENDING') return;
    const running = this.run(execution).finally(() => this.inflight.delete(execution.executionArn));
    this.inflight.set(execution.executionArn, running);
  }

  stop(): void {
    this.fleet.callLatency = undefined;
    this.uninstall?.();
    for (const [key, value] of Object.entries(this.savedEnvironment)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    resetEnvironmentForTesting();
  }

  /** Runs a state machine to its end as a recorded execution, with whatever it sets off (healing, for a drill). */
  async execute(machine: string, name: string, input: unknown): Promise<LocalRun> {
    const execution = this.fleet.startExecution(`${LOCAL_STATE_MACHINE_PREFIX}${machine}`, name, JSON.stringify(input));
    await this.settle();
    return this.runs.get(execution.executionArn)!;
  }

  /** What the schedule does every few minutes: one invocation of the reconcile handler. */
  async reconcile(): Promise<unknown> {
    return asFunction('reconcile', () => (handlers.reconcile as (event: unknown, context: unknown) => Promise<unknown>)(
      { 'detail-type': 'Scheduled Event', source: 'aws.events', time: new Date(this.fleet.now()).toISOString() },
      { awsRequestId: `reconcile-${this.fleet.now()}` },
    ));
  }

  /** What EventBridge does with an EC2 state change: one invocation of the handler (again, for a duplicate). */
  async deliver(instanceId: string, state: string, eventId?: string, occurredAt?: number): Promise<DeliveredEvent> {
    const id = eventId ?? `evt-${(this.eventSequence += 1).toString().padStart(6, '0')}`;
    const event = {
      version: '0',
      id,
      'detail-type': 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      account: this.fleet.account,
      // EventBridge stamps the time of the change, not of the delivery (second precision).
      time: new Date(Math.floor((occurredAt ?? this.fleet.now()) / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      region: this.fleet.region,
      resources: [`arn:aws:ec2:${this.fleet.region}:${this.fleet.account}:instance/${instanceId}`],
      detail: { 'instance-id': instanceId, state },
    };
    const outcome = await asFunction('onInstanceStateChange', () => (handlers.onInstanceStateChange as (event: unknown, context: unknown) => Promise<unknown>)(event, { awsRequestId: `event-${id}` }));
    return { id, outcome };
  }

  /**
   * Runs every started execution to its end, side by side; executions started meanwhile (a second
   * failure during a heal) start at once too. Returns the runs in the order they started.
   */
  async settle(): Promise<LocalRun[]> {
    const before = new Set(this.runs.keys());
    this.autoRun = true;
    try {
      for (const execution of this.fleet.executions.values()) if (execution.status === 'PENDING') this.launch(execution);
      while (this.inflight.size > 0) await Promise.all(this.inflight.values());
    } finally {
      this.autoRun = false;
    }
    return [...this.fleet.executions.values()]
      .filter((execution) => this.runs.has(execution.executionArn) && !before.has(execution.executionArn))
      .map((execution) => this.runs.get(execution.executionArn)!);
  }

  /**
   * settle(), with the reconcile schedule (rate(5 minutes) in serverless.yml) firing every `everySeconds` of
   * modelled time while executions run: what reconcile meets while a heal is in the middle of a long wait.
   * Returns the runs and what each scheduled reconcile answered.
   */
  async settleWhileReconciling(everySeconds: number): Promise<{ runs: LocalRun[]; reconciles: unknown[] }> {
    const reconciles: unknown[] = [];
    let settling = true;
    const schedule = (async () => {
      for (;;) {
        await this.time.sleep(everySeconds);
        if (!settling) return;
        reconciles.push(await this.reconcile());
      }
    })();
    const runs = await this.settle();
    settling = false;
    // The schedule's last sleep ends within everySeconds; awaited, so the clock stops moving before the caller looks.
    await schedule;
    return { runs, reconciles };
  }

  executionsOf(machine: string): SimExecution[] {
    return [...this.fleet.executions.values()].filter((execution) => execution.stateMachine === `kubeha-local-${machine}`);
  }

  private async run(execution: SimExecution): Promise<void> {
    execution.status = 'RUNNING';
    const machine = execution.stateMachine.replace(/^kubeha-local-/, '');
    const run = await runStateMachine(machine, execution.input, {
      executionName: execution.name,
      startTime: this.fleet.now(),
      onWait: (seconds) => this.time.sleep(seconds),
      onEvent: (event) => this.listeners.get(execution.executionArn)?.(event),
    });
    this.runs.set(execution.executionArn, run);
    execution.status = run.error ? 'FAILED' : 'SUCCEEDED';
    execution.stoppedAt = this.fleet.now();
    this.fleet.history.push({ at: execution.stoppedAt, what: `${machine} ${execution.status === 'SUCCEEDED' ? 'succeeded' : `failed (${run.error?.name})`} (${execution.name})` });
    if (run.error) execution.error = run.error;
    else execution.output = run.output;
  }
}
