// Cost: what each workflow costs, from the calls counted while the real state machines and handlers run on
// the simulated fleet, priced with AWS's public list prices (one table, below, each price with its page);
// and what one cluster costs a month when nothing happens but reconcile on rate(1 minute), with what the
// stack costs once (shared by every cluster of a stage) shown apart from what each cluster adds.
// Target (issue 14): one idle cluster-month all-in ≤ $5, against $73 for a managed EKS control plane.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);

/**
 * List prices, US East (N. Virginia), as published on each service's pricing page (eu-west-1 is the same for
 * Lambda, Step Functions, Secrets Manager and KMS, and within 10 % for the rest). Free tiers are ignored.
 */
export const PRICES = {
  stepFunctionsTransition: { usd: 0.025 / 1000, unit: 'Standard state transition', source: 'https://aws.amazon.com/step-functions/pricing/' },
  lambdaGbSecondArm: { usd: 0.0000133334, unit: 'GB-second, arm64', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaRequest: { usd: 0.2 / 1e6, unit: 'Lambda request', source: 'https://aws.amazon.com/lambda/pricing/' },
  runCommand: { usd: 0, unit: 'Run Command on EC2 instances (no charge)', source: 'https://aws.amazon.com/systems-manager/pricing/' },
  parameterStandard: { usd: 0, unit: 'Standard parameter, stored or read at standard throughput (no charge)', source: 'https://aws.amazon.com/systems-manager/pricing/' },
  secretMonth: { usd: 0.4, unit: 'secret-month', source: 'https://aws.amazon.com/secrets-manager/pricing/' },
  secretsCall: { usd: 0.05 / 10_000, unit: 'Secrets Manager API call', source: 'https://aws.amazon.com/secrets-manager/pricing/' },
  dynamoWrite: { usd: 0.625 / 1e6, unit: 'on-demand write request unit', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamoRead: { usd: 0.125 / 1e6, unit: 'on-demand read request unit', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamoStorage: { usd: 0.25 + 0.2, unit: 'GB-month stored, with point-in-time recovery', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  s3Put: { usd: 0.005 / 1000, unit: 'S3 PUT request', source: 'https://aws.amazon.com/s3/pricing/' },
  s3Get: { usd: 0.0004 / 1000, unit: 'S3 GET request', source: 'https://aws.amazon.com/s3/pricing/' },
  s3Storage: { usd: 0.023, unit: 'S3 Standard GB-month', source: 'https://aws.amazon.com/s3/pricing/' },
  kmsKeyMonth: { usd: 1, unit: 'customer-managed key-month (rotation adds $1 a year for two years)', source: 'https://aws.amazon.com/kms/pricing/' },
  kmsRequest: { usd: 0.03 / 10_000, unit: 'KMS request, also when a service makes it on your behalf', source: 'https://aws.amazon.com/kms/pricing/' },
  alarmMonth: { usd: 0.1, unit: 'standard-resolution alarm-month', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
  logsIngestGb: { usd: 0.5, unit: 'GB of CloudWatch Logs ingested', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
  snsPublish: { usd: 0.5 / 1e6, unit: 'SNS publish', source: 'https://aws.amazon.com/sns/pricing/' },
  snsEmail: { usd: 2 / 100_000, unit: 'SNS email delivery', source: 'https://aws.amazon.com/sns/pricing/' },
  eksControlPlaneHour: { usd: 0.1, unit: 'EKS cluster-hour (standard support)', source: 'https://aws.amazon.com/eks/pricing/' },
  ebsGp3GbMonth: { usd: 0.08, unit: 'EBS gp3 GB-month (a stopped instance pays only for its volumes)', source: 'https://aws.amazon.com/ebs/pricing/' },
  ebsSnapshotGbMonth: { usd: 0.05, unit: 'EBS snapshot GB-month, standard tier (billed for the blocks stored)', source: 'https://aws.amazon.com/ebs/pricing/' },
} as const;

/** AWS bills a month as 730 hours. */
const HOURS_PER_MONTH = 730;
const IDLE_TARGET_USD = 5;
/** Modelled durations count API round trips and sleeps; this is the function's own work on top (parsing, JSON). */
const COMPUTE_MS_PER_INVOCATION = 50;
/** START, END and REPORT lines Lambda writes for every invocation. */
const PLATFORM_LOG_BYTES = 350;
/** An etcd snapshot of a small cluster (etcd's db of a few hundred objects; the default quota is 2 GiB). */
const SNAPSHOT_BYTES = 20 * 1024 * 1024;
/**
 * What a prepared node image's snapshot stores: EBS bills the blocks written, not the volume's size. Ubuntu 24.04
 * server (≈ 2.5 GB) + containerd, kubelet, kubeadm and the CNI (≈ 0.6 GB) + the images kubeadm pulls (≈ 0.8 GB)
 * + logs and apt caches, rounded up. The bound is the builder's whole volume.
 */
const IMAGE_USED_GB = 5;
/** Each SNS message to a KMS-encrypted topic costs SNS one GenerateDataKey; each snapshot upload one (bucket key). */
const KMS_PER_ENCRYPTED_WRITE = 1;

const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

interface Usage {
  transitions: number;
  invocations: number;
  gbSeconds: number;
  calls: Record<string, number>;
  s3Puts: number;
  snapshots: number;
  logBytes: number;
  notifications: number;
}

interface Priced {
  usd: number;
  lines: Record<string, number>;
}

function emptyUsage(): Usage {
  return { transitions: 0, invocations: 0, gbSeconds: 0, calls: {}, s3Puts: 0, snapshots: 0, logBytes: 0, notifications: 0 };
}

function memoryOf(): (functionName: string) => number {
  const config = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8').replace(/\$\{[^}]*\}/g, 'x')) as {
    provider: { memorySize?: number };
    functions: Record<string, { memorySize?: number }>;
  };
  return (name) => config.functions[name]?.memorySize ?? config.provider.memorySize ?? 1024;
}

/** Each usage line priced; the sum is the workflow's cost. */
export function price(usage: Usage): Priced {
  const count = (service: string, filter: (operation: string) => boolean = () => true) =>
    Object.entries(usage.calls)
      .filter(([key]) => key.startsWith(`${service}:`) && filter(key.slice(service.length + 1)))
      .reduce((sum, [, calls]) => sum + calls, 0);
  const secretsCalls = count('secretsmanager');
  const publishes = count('sns', (operation) => operation === 'Publish');
  const lines: Record<string, number> = {
    'Step Functions transitions': usage.transitions * PRICES.stepFunctionsTransition.usd,
    'Lambda GB-s': usage.gbSeconds * PRICES.lambdaGbSecondArm.usd,
    'Lambda requests': usage.invocations * PRICES.lambdaRequest.usd,
    'Run Command, Parameter Store': count('ssm') * PRICES.runCommand.usd,
    'Secrets Manager calls': secretsCalls * PRICES.secretsCall.usd,
    // Items are under 1 KB and a Query returns a few KB: one request unit per call.
    'DynamoDB requests': count('dynamodb', (operation) => DYNAMO_WRITES.has(operation)) * PRICES.dynamoWrite.usd + count('dynamodb', (operation) => !DYNAMO_WRITES.has(operation)) * PRICES.dynamoRead.usd,
    'S3 requests': usage.s3Puts * PRICES.s3Put.usd + count('s3') * PRICES.s3Get.usd,
    // A snapshot stays for the retention (30 days by default): one month of storage per snapshot taken.
    'etcd snapshot storage': ((usage.snapshots * SNAPSHOT_BYTES) / 1024 ** 3) * PRICES.s3Storage.usd,
    // Secrets Manager calls KMS (its AWS-managed key) for each read or write of a secret value.
    'KMS requests': (secretsCalls + (publishes + usage.snapshots) * KMS_PER_ENCRYPTED_WRITE) * PRICES.kmsRequest.usd,
    'SNS': publishes * (PRICES.snsPublish.usd + PRICES.snsEmail.usd),
    'CloudWatch Logs': (usage.logBytes / 1024 ** 3) * PRICES.logsIngestGb.usd,
  };
  return { usd: Object.values(lines).reduce((sum, value) => sum + value, 0), lines };
}

function scale(usage: Usage, factor: number): Usage {
  return {
    transitions: usage.transitions * factor,
    invocations: usage.invocations * factor,
    gbSeconds: usage.gbSeconds * factor,
    calls: Object.fromEntries(Object.entries(usage.calls).map(([key, calls]) => [key, calls * factor])),
    s3Puts: usage.s3Puts * factor,
    snapshots: usage.snapshots * factor,
    logBytes: usage.logBytes * factor,
    notifications: usage.notifications * factor,
  };
}

/** Resources that bill by the month, counted in the stack serverless.yml and infra/iam.cjs build. */
function monthlyResources(): { stack: Record<string, number>; perCluster: Record<string, number> } {
  const config = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8').replace(/\$\{[^}]*\}/g, 'x')) as { resources: { Resources?: Record<string, { Type: string }> }[] };
  const iam = require('../infra/iam.cjs') as { iamResources(options: { stage: string; region: string; clusters: string[]; volumeKmsKeyArns: string[] }): Record<string, { Type: string }> };
  const typesOf = (resources: Record<string, { Type: string }>) => Object.values(resources).map((resource) => resource.Type);
  const inline = config.resources.flatMap((part) => typesOf(part.Resources ?? {}));
  const one = typesOf(iam.iamResources({ stage: 'bench', region: 'eu-west-1', clusters: ['one'], volumeKmsKeyArns: [] }));
  const two = typesOf(iam.iamResources({ stage: 'bench', region: 'eu-west-1', clusters: ['one', 'two'], volumeKmsKeyArns: [] }));
  const counted = (types: string[], type: string) => types.filter((candidate) => candidate === type).length;
  const kinds = { secrets: 'AWS::SecretsManager::Secret', kmsKeys: 'AWS::KMS::Key', alarms: 'AWS::CloudWatch::Alarm' };
  const perCluster = Object.fromEntries(Object.entries(kinds).map(([name, type]) => [name, counted(two, type) - counted(one, type)]));
  const stack = Object.fromEntries(Object.entries(kinds).map(([name, type]) => [name, counted(inline, type) + counted(one, type) - perCluster[name]!]));
  return { stack, perCluster };
}

const usd = (value: number) => (value >= 0.01 ? `$${value.toFixed(2)}` : value === 0 ? '$0' : `$${value.toFixed(5)}`);

export async function run(): Promise<{ title: string; markdown: string; json: unknown; missedTargets: string[] }> {
  const { setLogSink } = await import('../functions/core/log.js');
  const { consoleInput } = await import('../sim/bootstrap.js');
  const { SimulatedFleet } = await import('../sim/fleet.js');
  const { LocalControlPlane } = await import('../sim/control-plane.js');
  const { inInvocation } = await import('../sim/handler-time.js');
  process.env.AWS_REGION = 'eu-west-1';
  const memory = memoryOf();
  let logBytes = 0;
  const restoreLogs = setLogSink((line) => {
    logBytes += Buffer.byteLength(line) + 1;
  });

  type Fleet = InstanceType<typeof SimulatedFleet>;
  type Plane = InstanceType<typeof LocalControlPlane>;
  /** Everything billable that happened while `action` ran: executions it started, functions, calls, uploads. */
  async function measure(fleet: Fleet, plane: Plane, action: () => Promise<unknown>, only?: (machine: string) => boolean): Promise<Usage> {
    const usage = emptyUsage();
    const calls = fleet.calls.length;
    const executions = new Set(fleet.executions.keys());
    const objects = fleet.objects.size;
    const snapshots = fleet.snapshots.length;
    const notifications = fleet.notifications.length;
    logBytes = 0;
    const bill = (functionName: string, elapsedMs: number) => {
      usage.invocations += 1;
      usage.gbSeconds += (memory(functionName) / 1024) * (Math.ceil(elapsedMs + COMPUTE_MS_PER_INVOCATION) / 1000);
    };
    // Events reach the handler outside any execution: meter each delivery as its own invocation.
    const deliver = plane.deliver.bind(plane);
    plane.deliver = (...args: Parameters<Plane['deliver']>) => {
      const invocation = inInvocation(() => deliver(...args));
      return invocation.result.finally(() => bill('onInstanceStateChange', invocation.elapsedMs()));
    };
    try {
      await action();
    } finally {
      plane.deliver = deliver;
    }
    for (const [arn, execution] of fleet.executions) {
      if (executions.has(arn)) continue;
      if (only && !only(execution.stateMachine)) continue;
      const run = plane.runs.get(arn);
      if (!run) continue;
      usage.transitions += run.events.filter((event) => event.type === 'StateEntered' || event.type === 'StateRetried').length;
      for (const task of run.tasks) bill(task.functionName, task.elapsedMs ?? 0);
    }
    for (const call of fleet.calls.slice(calls)) usage.calls[`${call.service}:${call.operation}`] = (usage.calls[`${call.service}:${call.operation}`] ?? 0) + 1;
    usage.s3Puts = fleet.objects.size - objects;
    usage.snapshots = fleet.snapshots.length - snapshots;
    usage.notifications = fleet.notifications.length - notifications;
    usage.logBytes = logBytes + usage.invocations * PLATFORM_LOG_BYTES;
    return usage;
  }

  const workflows: { workflow: string; usage: Usage }[] = [];
  const images = { kept: 0, made: 0, snapshotGb: 0 };
  try {
    {
      const fleet = SimulatedFleet.standard({ masters: 3, loadBalancers: 2, workers: 3 });
      const plane = new LocalControlPlane(fleet).start();
      try {
        workflows.push({ workflow: 'bootstrap 3/2/3', usage: await measure(fleet, plane, () => plane.execute('bootstrap-cluster', 'cost-bootstrap', consoleInput(fleet))) });
      } finally {
        plane.stop();
      }
    }
    const scenarios = [
      { target: 'lb', action: 'stop' },
      { target: 'master', action: 'stop' },
      { target: 'master', action: 'terminate' },
      { target: 'worker', action: 'terminate' },
    ] as const;
    for (const scenario of scenarios) {
      const fleet = SimulatedFleet.standard();
      const plane = new LocalControlPlane(fleet).start().enableEventBridge();
      try {
        await plane.execute('bootstrap-cluster', 'cost-bootstrap', consoleInput(fleet));
        let drillUsage: Usage | undefined;
        const heal = await measure(fleet, plane, async () => {
          const run = await plane.execute('drill-cluster', `cost-${scenario.target}-${scenario.action}`, { clusterName: 'demo', ...scenario });
          if (run.error) throw new Error(`drill ${scenario.action} ${scenario.target} failed: ${run.error.cause}`);
        }, (machine) => machine.includes('heal-'));
        // The drill's own execution, apart: what a rehearsal costs on top of the heal it sets off.
        const drill = [...plane.runs.entries()].find(([arn]) => arn.includes('drill-cluster'))![1];
        drillUsage = emptyUsage();
        drillUsage.transitions = drill.events.filter((event) => event.type === 'StateEntered' || event.type === 'StateRetried').length;
        for (const task of drill.tasks) {
          drillUsage.invocations += 1;
          drillUsage.gbSeconds += (memory(task.functionName) / 1024) * (Math.ceil((task.elapsedMs ?? 0) + COMPUTE_MS_PER_INVOCATION) / 1000);
        }
        workflows.push({ workflow: `heal: ${scenario.action} ${scenario.target} (events + heal executions)`, usage: heal });
        workflows.push({ workflow: `drill: ${scenario.action} ${scenario.target} (the drill execution alone)`, usage: drillUsage });
      } finally {
        plane.stop();
      }
    }
    // Prepared node images: two builds, then a third, which removes the first image and its snapshots.
    {
      const fleet = SimulatedFleet.standard();
      const plane = new LocalControlPlane(fleet).start();
      try {
        await plane.execute('bootstrap-cluster', 'cost-bootstrap', consoleInput(fleet));
        for (const name of ['cost-image-1', 'cost-image-2']) {
          const build = await plane.execute('build-node-image', name, { clusterName: 'demo' });
          if (build.error) throw new Error(`image build failed: ${build.error.cause}`);
        }
        const usage = await measure(fleet, plane, async () => {
          const build = await plane.execute('build-node-image', 'cost-image-3', { clusterName: 'demo' });
          if (build.error) throw new Error(`image build failed: ${build.error.cause}`);
        });
        workflows.push({ workflow: 'image build (the third: it removes the first image)', usage });
        images.kept = [...fleet.images.values()].filter((image) => image.state !== 'deregistered').length;
        images.made = fleet.images.size;
        images.snapshotGb = [...fleet.ebsSnapshots.values()].reduce((sum, snapshot) => sum + snapshot.volumeSize, 0);
      } finally {
        plane.stop();
      }
    }
    // Idle: one reconcile run over a healthy cluster, as the schedule invokes it (last: the idle figures read it).
    {
      const fleet = SimulatedFleet.standard();
      const plane = new LocalControlPlane(fleet).start();
      try {
        await plane.execute('bootstrap-cluster', 'cost-bootstrap', consoleInput(fleet));
        fleet.advance(60);
        await plane.reconcile();
        fleet.advance(60);
        let elapsedMs = 0;
        const usage = await measure(fleet, plane, async () => {
          const invocation = inInvocation(() => plane.reconcile());
          await invocation.result;
          elapsedMs = invocation.elapsedMs();
        });
        usage.invocations += 1;
        usage.gbSeconds += (memory('reconcile') / 1024) * (Math.ceil(elapsedMs + COMPUTE_MS_PER_INVOCATION) / 1000);
        usage.logBytes += PLATFORM_LOG_BYTES;
        workflows.push({ workflow: 'reconcile, one run over a healthy cluster', usage });
      } finally {
        plane.stop();
      }
    }
  } finally {
    restoreLogs();
  }

  // One cluster-month, nothing failing, reconcile every minute.
  const runsPerMonth = HOURS_PER_MONTH * 60;
  const reconcileRun = workflows.at(-1)!.usage;
  const reconcileMonth = price(scale(reconcileRun, runsPerMonth));
  const resources = monthlyResources();
  const stateTableGb = 50 / 1024 / 1024; // launch records, lock and incidents of one cluster: tens of KB
  const stackLines: Record<string, number> = {
    [`KMS keys (${resources.stack.kmsKeys})`]: resources.stack.kmsKeys! * PRICES.kmsKeyMonth.usd,
    [`CloudWatch alarms (${resources.stack.alarms})`]: resources.stack.alarms! * PRICES.alarmMonth.usd,
    [`secrets (${resources.stack.secrets})`]: resources.stack.secrets! * PRICES.secretMonth.usd,
    'reconcile requests and logs (one invocation serves every cluster)': reconcileMonth.lines['Lambda requests']! + (runsPerMonth * PLATFORM_LOG_BYTES * PRICES.logsIngestGb.usd) / 1024 ** 3,
  };
  const clusterLines: Record<string, number> = {
    [`secrets (${resources.perCluster.secrets})`]: resources.perCluster.secrets! * PRICES.secretMonth.usd,
    [`KMS keys (${resources.perCluster.kmsKeys})`]: resources.perCluster.kmsKeys! * PRICES.kmsKeyMonth.usd,
    [`CloudWatch alarms (${resources.perCluster.alarms})`]: resources.perCluster.alarms! * PRICES.alarmMonth.usd,
    'state table storage': stateTableGb * PRICES.dynamoStorage.usd,
    ...Object.fromEntries(
      Object.entries(reconcileMonth.lines)
        .filter(([line, value]) => value > 0 && line !== 'Lambda requests')
        .map(([line, value]) => [`reconcile: ${line}`, line === 'CloudWatch Logs' ? value - (runsPerMonth * PLATFORM_LOG_BYTES * PRICES.logsIngestGb.usd) / 1024 ** 3 : value]),
    ),
  };
  // A kind of resource the stack does not have is no line of the bill.
  for (const lines of [stackLines, clusterLines]) for (const [item, value] of Object.entries(lines)) if (value === 0 && / \(0\)$/.test(item)) delete lines[item];
  const stackUsd = Object.values(stackLines).reduce((sum, value) => sum + value, 0);
  const clusterUsd = Object.values(clusterLines).reduce((sum, value) => sum + value, 0);
  const idleUsd = stackUsd + clusterUsd;
  const eksUsd = HOURS_PER_MONTH * PRICES.eksControlPlaneHour.usd;
  const missedTargets = idleUsd > IDLE_TARGET_USD ? [`cost: one idle cluster-month costs ${usd(idleUsd)} all-in (target ≤ $${IDLE_TARGET_USD})`] : [];

  // Warm standbys (healing.standbys), apart from the idle total, which keeps none: a stopped instance is billed
  // for its EBS volumes only ("For stopped instances, you pay only for the volumes you use",
  // https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html), each the size of
  // the member it copies; the state-table Query reconcile adds per run is counted in the line below.
  const sized = SimulatedFleet.standard();
  const volumeGb = (role: 'master' | 'worker') => sized.byRole(role)[0]!.volumes.reduce((sum, volume) => sum + volume.size, 0);
  const standbyLines: Record<string, number> = {
    [`one master standby (${volumeGb('master')} GB gp3)`]: volumeGb('master') * PRICES.ebsGp3GbMonth.usd,
    [`one worker standby (${volumeGb('worker')} GB gp3)`]: volumeGb('worker') * PRICES.ebsGp3GbMonth.usd,
    'reconcile reading the standby claims (one Query a run)': runsPerMonth * PRICES.dynamoRead.usd,
  };

  // Prepared node images (kubeha image build), apart from the idle total, which has none: their EBS snapshots,
  // as many as the builds keep (functions/core/node-image.ts KEPT_NODE_IMAGES), however many builds there were.
  const imageLines: Record<string, number> = {
    [`${images.kept} images kept of ${images.made} built, typical (${IMAGE_USED_GB} GB of blocks each)`]: images.kept * IMAGE_USED_GB * PRICES.ebsSnapshotGbMonth.usd,
    [`${images.kept} images kept, at most (every block of their ${images.snapshotGb} GB of volumes)`]: images.snapshotGb * PRICES.ebsSnapshotGbMonth.usd,
  };

  const priced = workflows.map(({ workflow, usage }) => ({ workflow, usage, ...price(usage) }));
  const callCount = (usage: Usage) => Object.values(usage.calls).reduce((sum, calls) => sum + calls, 0);
  const lines = [
    `Per workflow, from the calls counted in simulator runs (modelled Lambda durations + ${COMPUTE_MS_PER_INVOCATION} ms of compute per invocation, × memory in serverless.yml, arm64).`,
    '',
    '| workflow | transitions | Lambda invocations | GB-s | AWS calls (a heal row counts the drill\'s too) | S3 PUTs | cost | largest part |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...priced.map(({ workflow, usage, usd: total, lines: parts }) => {
      const [largest] = Object.entries(parts).sort((a, b) => b[1] - a[1]);
      return `| ${workflow} | ${usage.transitions} | ${usage.invocations} | ${usage.gbSeconds.toFixed(2)} | ${callCount(usage)} | ${usage.s3Puts} | ${usd(total)} | ${largest && largest[1] > 0 ? largest[0] : '-'} |`;
    }),
    '',
    `Idle, one cluster-month (${HOURS_PER_MONTH} h), reconcile on rate(1 minute) = ${runsPerMonth.toLocaleString('en-US')} runs:`,
    '',
    '| | item | per month |',
    '| --- | --- | --- |',
    ...Object.entries(stackLines).map(([item, value]) => `| per stack (shared by the stage's clusters) | ${item} | ${usd(value)} |`),
    ...Object.entries(clusterLines).map(([item, value]) => `| per cluster | ${item} | ${usd(value)} |`),
    `| **total, one cluster** | stack ${usd(stackUsd)} + cluster ${usd(clusterUsd)} | **${usd(idleUsd)}** (target ≤ $${IDLE_TARGET_USD}; EKS control plane ${usd(eksUsd)}) |`,
    '',
    'Warm standbys, per standby-month on top of the idle total (which keeps none; `healing.standbys`):',
    '',
    '| item | per month |',
    '| --- | --- |',
    ...Object.entries(standbyLines).map(([item, value]) => `| ${item} | ${usd(value)} |`),
    '',
    'Prepared node images, per month on top of the idle total (which has none; `kubeha image build`), whatever the number of builds:',
    '',
    '| item | per month |',
    '| --- | --- |',
    ...Object.entries(imageLines).map(([item, value]) => `| ${item} | ${usd(value)} |`),
    '',
    'Prices (US East list prices, free tiers ignored):',
    '',
    '| price | per | source |',
    '| --- | --- | --- |',
    ...Object.values(PRICES).map((entry) => `| $${entry.usd.toPrecision(3)} | ${entry.unit} | ${entry.source} |`),
  ];
  return {
    title: 'Cost',
    markdown: lines.join('\n'),
    json: {
      prices: PRICES,
      assumptions: { computeMsPerInvocation: COMPUTE_MS_PER_INVOCATION, platformLogBytes: PLATFORM_LOG_BYTES, snapshotBytes: SNAPSHOT_BYTES, hoursPerMonth: HOURS_PER_MONTH },
      workflows: priced,
      idle: { reconcileRunsPerMonth: runsPerMonth, stack: stackLines, perCluster: clusterLines, stackUsd, clusterUsd, oneClusterUsd: idleUsd, eksUsd, targetUsd: IDLE_TARGET_USD },
      standbys: standbyLines,
      nodeImages: { ...images, imageUsedGb: IMAGE_USED_GB, lines: imageLines },
    },
    missedTargets,
  };
}
