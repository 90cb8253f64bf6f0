// Who may do what, read from the packaged template: README's permission matrix is generated from it
// (scripts/permission-matrix.ts), and its policies are evaluated by an IAM policy simulator
// (@cloud-copilot/iam-simulate: identity policies, conditions, implicit and explicit denies).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { beforeAll, describe, expect, it } from 'vitest';
import { handlers } from '../../functions/registry.js';
import { ACCOUNT, type Principal, type StackTemplate, permissionMatrix, principals, resolvedPolicy } from '../../scripts/permission-matrix.js';
import { consoleInput } from '../../sim/bootstrap.js';
import { LocalControlPlane } from '../../sim/control-plane.js';
import { SimulatedFleet } from '../../sim/fleet.js';
import { ROOT, packageTemplate } from './template.js';

const { 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT_ID } = ACCOUNT;
const secret = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:${name}-AbCdEf`;
const SECRETS = {
  controlPlaneJoin: secret('kubeha/ci/demo/control-plane-join'),
  workerJoin: secret('kubeha/ci/demo/worker-join'),
  kubeconfig: secret('kubeha/ci/demo/admin-kubeconfig'),
  otherClusterControlPlaneJoin: secret('kubeha/ci/prod-eu/control-plane-join'),
  otherClusterWorkerJoin: secret('kubeha/ci/prod-eu/worker-join'),
  otherStageControlPlaneJoin: secret('kubeha/ci-eu/demo/control-plane-join'),
  unservedCluster: secret('kubeha/ci/staging/control-plane-join'),
};
/** Every Secrets Manager call that reveals a secret's value or its metadata. */
const SECRET_READS = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret', 'secretsmanager:ListSecretVersionIds', 'secretsmanager:GetResourcePolicy'];

let template: StackTemplate;
let roles: Map<string, Principal>;

beforeAll(() => {
  template = packageTemplate(['--stage', 'ci', '--region', REGION, '--param', 'clusters=demo,prod-eu']) as unknown as StackTemplate;
  roles = new Map(principals(template).map((principal) => [principal.name, principal]));
}, 900_000);

/** The simulator's verdict for one request by one principal: Allowed, ImplicitlyDenied or ExplicitlyDenied. */
async function verdict(name: string, action: string, resource: string, context: Record<string, string | string[]> = {}): Promise<string> {
  const principal = roles.get(name);
  if (!principal) throw new Error(`no principal ${name} in the template`);
  const result = await runSimulation(
    {
      request: { principal: `arn:aws:iam::${ACCOUNT_ID}:role/${principal.roleId}`, action, resource: { resource, accountId: ACCOUNT_ID }, contextVariables: context },
      identityPolicies: [{ name: principal.roleId, policy: resolvedPolicy(principal, template) }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`${name} ${action} ${resource}: ${JSON.stringify(result.errors)}`);
  if (result.resultType !== 'single') throw new Error(`${name} ${action} ${resource}: expected one result, got ${result.resultType}`);
  return result.overallResult;
}

const functionNames = () => [...roles.keys()].filter((name) => name in handlers);

describe("README's permission matrix", () => {
  it('is the one the packaged template gives', () => {
    // Prepare
    const path = join(ROOT, 'README.md');
    const readme = readFileSync(path, 'utf8');
    const start = readme.indexOf('<!-- permission-matrix:start -->');
    const end = readme.indexOf('<!-- permission-matrix:end -->');
    expect(start, 'README has no <!-- permission-matrix:start --> marker').toBeGreaterThan(0);

    // Act
    const generated = `<!-- permission-matrix:start -->\n${permissionMatrix(template)}\n`;

    // Assess: KUBEHA_UPDATE_README=1 writes the generated matrix into README instead, for review in the diff.
    const current = readme.slice(start, end);
    if (process.env.KUBEHA_UPDATE_README && current !== generated) {
      writeFileSync(path, readme.replace(current, generated));
      return;
    }
    expect(current).toBe(generated);
  });

  it('has a row for every function, every state machine and every node role of each cluster', () => {
    const matrix = permissionMatrix(template);
    for (const fn of Object.keys(handlers)) expect(matrix).toContain(`| ${fn} |`);
    for (const role of ['master', 'worker', 'lb']) for (const cluster of ['demo', 'prod-eu']) expect(matrix).toContain(`| ${role} instance (${cluster}) |`);
    expect(matrix).toContain('| state machine heal-master |');
  });
});

describe('the packaged policies, in an IAM policy simulator', () => {
  it.each([['worker'], ['lb']])('deny the %s role every read of the certificate key secret and of the admin kubeconfig, of any cluster', async (role) => {
    for (const action of SECRET_READS) {
      for (const target of [SECRETS.controlPlaneJoin, SECRETS.kubeconfig, SECRETS.otherClusterControlPlaneJoin]) {
        expect(await verdict(`${role} instance (demo)`, action, target), `${action} ${target}`).toBe('ImplicitlyDenied');
      }
    }
  });

  it('let a worker read its own cluster\'s worker join secret and nothing else of Secrets Manager', async () => {
    expect(await verdict('worker instance (demo)', 'secretsmanager:GetSecretValue', SECRETS.workerJoin)).toBe('Allowed');
    expect(await verdict('worker instance (demo)', 'secretsmanager:GetSecretValue', SECRETS.otherClusterWorkerJoin)).toBe('ImplicitlyDenied');
    expect(await verdict('worker instance (demo)', 'secretsmanager:PutSecretValue', SECRETS.workerJoin)).toBe('ImplicitlyDenied');
    expect(await verdict('lb instance (demo)', 'secretsmanager:GetSecretValue', SECRETS.workerJoin)).toBe('ImplicitlyDenied');
  });

  it('let a master read both join secrets of its own cluster and write its admin kubeconfig, and nothing of another cluster', async () => {
    const master = 'master instance (demo)';
    expect(await verdict(master, 'secretsmanager:GetSecretValue', SECRETS.controlPlaneJoin)).toBe('Allowed');
    expect(await verdict(master, 'secretsmanager:GetSecretValue', SECRETS.workerJoin)).toBe('Allowed');
    expect(await verdict(master, 'secretsmanager:PutSecretValue', SECRETS.kubeconfig)).toBe('Allowed');
    expect(await verdict(master, 'secretsmanager:GetSecretValue', SECRETS.otherClusterControlPlaneJoin)).toBe('ImplicitlyDenied');
    expect(await verdict(master, 'secretsmanager:PutSecretValue', SECRETS.controlPlaneJoin)).toBe('ImplicitlyDenied');
  });

  it('give no function any secret value, and no function but mintJoinMaterial a secret to write', async () => {
    for (const fn of functionNames()) {
      for (const target of Object.values(SECRETS)) {
        expect(await verdict(fn, 'secretsmanager:GetSecretValue', target), `${fn} ${target}`).toBe('ImplicitlyDenied');
        if (fn !== 'mintJoinMaterial') expect(await verdict(fn, 'secretsmanager:PutSecretValue', target), `${fn} ${target}`).toBe('ImplicitlyDenied');
      }
    }
  });

  it("let mintJoinMaterial write this stage's join secrets of the served clusters, and not the kubeconfig, another stage's or an unserved cluster's", async () => {
    for (const target of [SECRETS.controlPlaneJoin, SECRETS.workerJoin, SECRETS.otherClusterWorkerJoin]) {
      expect(await verdict('mintJoinMaterial', 'secretsmanager:PutSecretValue', target), target).toBe('Allowed');
    }
    for (const target of [SECRETS.kubeconfig, SECRETS.otherStageControlPlaneJoin, SECRETS.unservedCluster]) {
      expect(await verdict('mintJoinMaterial', 'secretsmanager:PutSecretValue', target), target).toBe('ImplicitlyDenied');
    }
  });

  it("deny every function a representative set of other stages' and clusters' resources", async () => {
    const otherStage = {
      document: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:document/kubeha-ci-eu-JoinWorker-0123456789`,
      machine: `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:kubeha-ci-eu-heal-master`,
      parameter: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/kubeha/staging/settings`,
      role: `arn:aws:iam::${ACCOUNT_ID}:role/kubeha-ci-eu.demo.master.${REGION}`,
      table: `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/StateTable`,
    };
    for (const fn of functionNames()) {
      expect(await verdict(fn, 'ssm:SendCommand', otherStage.document), fn).toBe('ImplicitlyDenied');
      expect(await verdict(fn, 'states:StartExecution', otherStage.machine), fn).toBe('ImplicitlyDenied');
      expect(await verdict(fn, 'ssm:GetParameter', otherStage.parameter), fn).toBe('ImplicitlyDenied');
      expect(await verdict(fn, 'iam:PassRole', otherStage.role, { 'iam:PassedToService': 'ec2.amazonaws.com' }), fn).toBe('ImplicitlyDenied');
      expect(await verdict(fn, 'dynamodb:GetItem', otherStage.table, { 'dynamodb:LeadingKeys': ['cluster#staging'] }), fn).toBe('ImplicitlyDenied');
    }
  });

  it('let reconcile launch, tag, stop and terminate warm standbys, and never a member', async () => {
    // Prepare
    const instance = `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/i-0123456789abcdef0`;
    const standby = { 'ec2:ResourceTag/kubeha:standby-for': 'master' };
    const member = { 'ec2:ResourceTag/kubeha:role': 'master' };
    const claimed = { ...standby, ...member };

    // Act and Assess
    expect(await verdict('reconcile', 'ec2:RunInstances', instance, { 'aws:RequestTag/kubeha:standby-for': 'master', 'aws:TagKeys': ['kubeha:standby-for'] })).toBe('Allowed');
    expect(await verdict('reconcile', 'ec2:RunInstances', instance, { 'aws:RequestTag/kubeha:standby-for': 'master', 'aws:RequestTag/kubeha:role': 'master', 'aws:TagKeys': ['kubeha:standby-for', 'kubeha:role'] })).toBe('ImplicitlyDenied');
    expect(await verdict('reconcile', 'ec2:RunInstances', instance, { 'aws:RequestTag/kubeha:role': 'master', 'aws:TagKeys': ['kubeha:role'] })).toBe('ImplicitlyDenied');
    for (const action of ['ec2:StopInstances', 'ec2:TerminateInstances']) {
      expect(await verdict('reconcile', action, instance, standby), action).toBe('Allowed');
      expect(await verdict('reconcile', action, instance, member), action).toBe('ImplicitlyDenied');
      expect(await verdict('reconcile', action, instance, claimed), action).toBe('ImplicitlyDenied');
    }
    expect(await verdict('reconcile', 'ec2:CreateTags', instance, { ...standby, 'aws:TagKeys': ['kubeha:standby-state', 'kubeha:standby-version'] })).toBe('Allowed');
    expect(await verdict('reconcile', 'ec2:CreateTags', instance, { ...standby, 'aws:TagKeys': ['kubeha:role'] })).toBe('ImplicitlyDenied');
  });

  it('let launchReplacement make a standby a member and drop its standby tags (or, given back, its member tags), and tag nothing else so', async () => {
    const instance = `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/i-0123456789abcdef0`;
    const standby = { 'ec2:ResourceTag/kubeha:standby-for': 'master' };
    expect(await verdict('launchReplacement', 'ec2:CreateTags', instance, { ...standby, 'aws:TagKeys': ['kubeha:role', 'kubeha:replaces'] })).toBe('Allowed');
    expect(await verdict('launchReplacement', 'ec2:CreateTags', instance, { 'ec2:ResourceTag/kubeha:role': 'worker', 'aws:TagKeys': ['kubeha:role'] })).toBe('ImplicitlyDenied');
    expect(await verdict('launchReplacement', 'ec2:CreateTags', instance, { 'aws:TagKeys': ['kubeha:role'] })).toBe('ImplicitlyDenied');
    expect(await verdict('launchReplacement', 'ec2:DeleteTags', instance, { ...standby, 'aws:TagKeys': ['kubeha:standby-for', 'kubeha:standby-state', 'kubeha:standby-version'] })).toBe('Allowed');
    // A standby EC2 cannot start is given back: its member tags go, while it still carries the standby tag.
    expect(await verdict('launchReplacement', 'ec2:DeleteTags', instance, { ...standby, 'aws:TagKeys': ['kubeha:role', 'kubeha:replaces'] })).toBe('Allowed');
    expect(await verdict('launchReplacement', 'ec2:DeleteTags', instance, { 'ec2:ResourceTag/kubeha:role': 'master', 'aws:TagKeys': ['kubeha:role'] })).toBe('ImplicitlyDenied');
    expect(await verdict('launchReplacement', 'ec2:DeleteTags', instance, { ...standby, 'aws:TagKeys': ['kubernetes.io/cluster/demo'] })).toBe('ImplicitlyDenied');
    expect(await verdict('launchReplacement', 'ec2:StopInstances', instance, standby)).toBe('ImplicitlyDenied');
    expect(await verdict('launchReplacement', 'ec2:StartInstances', instance, { ...standby, 'ec2:ResourceTag/kubeha:role': 'master' })).toBe('Allowed');
    expect(await verdict('launchReplacement', 'ec2:StartInstances', instance, { 'ec2:ResourceTag/kubeha:role': 'master' })).toBe('ImplicitlyDenied');
  });

  it('let only the image clean-up functions deregister images and delete snapshots, and only those a build made for a served cluster', async () => {
    // Prepare: CreateImage tags the image and its snapshots with the build and the cluster (functions/adapters/ec2.ts).
    const image = `arn:aws:ec2:${REGION}::image/ami-0123456789abcdef0`;
    const snapshot = `arn:aws:ec2:${REGION}::snapshot/snap-0123456789abcdef0`;
    const built = { 'ec2:ResourceTag/kubeha:image-build': '0123456789abcdef', 'ec2:ResourceTag/kubeha:image-cluster': 'demo' };
    const unserved = { ...built, 'ec2:ResourceTag/kubeha:image-cluster': 'staging' };
    const untracked = { 'ec2:ResourceTag/kubeha:image-cluster': 'demo' };
    const removals = [['ec2:DeregisterImage', image], ['ec2:DeleteSnapshot', snapshot]] as const;

    // Act and Assess
    for (const fn of ['discardNodeImage', 'pruneNodeImages']) {
      for (const [action, resource] of removals) {
        expect(await verdict(fn, action, resource, built), `${fn} ${action}`).toBe('Allowed');
        for (const context of [unserved, untracked, {}]) expect(await verdict(fn, action, resource, context), `${fn} ${action} ${JSON.stringify(context)}`).toBe('ImplicitlyDenied');
      }
    }
    for (const fn of functionNames().filter((name) => name !== 'discardNodeImage' && name !== 'pruneNodeImages')) {
      for (const [action, resource] of removals) expect(await verdict(fn, action, resource, built), `${fn} ${action}`).toBe('ImplicitlyDenied');
    }
  });

  it('let the functions that hold the state table reach a served cluster\'s items', async () => {
    const table = `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/StateTable`;
    expect(await verdict('acquireLock', 'dynamodb:UpdateItem', table, { 'dynamodb:LeadingKeys': ['cluster#demo'] })).toBe('Allowed');
    expect(await verdict('acquireLock', 'dynamodb:UpdateItem', table, { 'dynamodb:LeadingKeys': ['cluster#staging'] })).toBe('ImplicitlyDenied');
  });
});

/**
 * Calls a function's role allows that the simulated run below does not make, each with why it is granted:
 * a path the run does not take, an authorization AWS checks inside another call, or a statement shared
 * with other functions (README "Permission matrix" lists these too). The test holds this table exact.
 */
const SHARED_TABLE = 'the state-table statement shared by the functions that record launches; not called on this run';
const EXTERNAL_CHECK = 'checking the external services from a worker, only when the cluster names some (issue 12)';
const WARM_STANDBY = 'claiming, retagging and starting a warm standby, only when the cluster keeps some';
const STANDBY_UPKEEP = 'keeping warm standbys (launch, find the preparation, stop, retire), only when the cluster wants some';
const GRANTED_BEYOND_THE_RUN: Record<string, Record<string, string>> = {
  sendCommand: { 'ssm:ListCommands': "a retried send finding its first attempt's command by its comment" },
  awaitCommand: { 'ssm:CancelCommand': 'a command past its deadline, or held as Delayed for a stopped node', 's3:GetObject': 'output past the 24,000-character cut', 'ec2:DescribeInstances': 'an invocation SSM holds as Delayed: is its node stopped or gone?' },
  recordCluster: {
    'dynamodb:GetItem': SHARED_TABLE,
    'dynamodb:UpdateItem': SHARED_TABLE,
    // Verify's last part: a worker's reachability check of the external services, when the cluster names any.
    'ssm:DescribeInstanceInformation': EXTERNAL_CHECK,
    'ssm:SendCommand': EXTERNAL_CHECK,
    'ssm:ListCommandInvocations': EXTERNAL_CHECK,
    'ssm:GetCommandInvocation': EXTERNAL_CHECK,
    'ssm:CancelCommand': EXTERNAL_CHECK,
    's3:GetObject': EXTERNAL_CHECK,
  },
  onInstanceStateChange: {
    'states:DescribeExecution': 'an incident whose heal is already running',
    'sns:Publish': 'a spent healing budget',
    'kms:GenerateDataKey': 'publishing to the encrypted alerts topic',
    'kms:Decrypt': 'publishing to the encrypted alerts topic',
    'ec2:DescribeVolumes': 'recording the launch facts of a new instance',
    'dynamodb:Query': 'recording the launch facts of a new instance',
    'dynamodb:BatchWriteItem': 'recording the launch facts of a new instance',
    'sqs:SendMessage': 'the on-failure destination: Lambda sends an event it gives up on with this role',
    'ec2:AssociateAddress': "the safety net: the Elastic IP on a stopped load balancer that the standby's keepalived has not claimed already",
  },
  acquireLock: { 'states:DescribeExecution': 'a lock whose holder may have ended' },
  ensureEncryptionKey: { 'secretsmanager:ListSecretVersionIds': 'a re-run that finds the first key stored already (its current version)' },
  inspectCluster: { 'dynamodb:Query': 'reading launch records of the cluster' },
  launchReplacement: {
    'ec2:DescribeVolumes': 'a replacement from the live instance rather than its record',
    'dynamodb:Query': 'reading every launch record of the cluster',
    'ec2:CreateTags': 'authorized inside RunInstances (tags on create), not a call of its own',
    'iam:PassRole': 'authorized inside RunInstances (the instance profile), not a call of its own',
    'ec2:DeleteTags': WARM_STANDBY,
    'ec2:StartInstances': WARM_STANDBY,
    'dynamodb:DeleteItem': 'giving back a warm standby EC2 has no capacity to start (its claim), only when the cluster keeps some',
    'ssm:GetParameter': "the settings, read only by a launch without the heal's inspection (heal-load-balancer launches while it inspects)",
  },
  launchImageBuilder: {
    'ec2:CreateTags': 'authorized inside RunInstances (tags on create), not a call of its own',
    'iam:PassRole': "authorized inside RunInstances (the builder's instance profile), not a call of its own",
  },
  ensureNodeImage: { 'ec2:CreateTags': 'authorized inside CreateImage (the image and its snapshots tagged on create), not a call of its own' },
  ensureElasticIp: { 'ec2:DescribeInstances': 'finding the healthy load balancer', 'ec2:AssociateAddress': 'an Elastic IP on no healthy load balancer' },
  reconcile: {
    'ssm:CancelCommand': 'a status command past its deadline',
    's3:GetObject': 'a status past the 24,000-character cut',
    'ec2:CreateTags': 'stale upstreams',
    'ec2:AssociateAddress': 'a misplaced Elastic IP',
    'states:StartExecution': 'a node the events missed',
    'states:DescribeExecution': 'an incident already being healed',
    'sns:Publish': 'a spent healing budget',
    'kms:GenerateDataKey': 'publishing to the encrypted alerts topic',
    'kms:Decrypt': 'publishing to the encrypted alerts topic',
    'dynamodb:DeleteItem': 'a stale lock',
    'ec2:RunInstances': STANDBY_UPKEEP,
    'ec2:StopInstances': STANDBY_UPKEEP,
    'ec2:TerminateInstances': STANDBY_UPKEEP,
    'ssm:ListCommands': STANDBY_UPKEEP,
    'iam:PassRole': 'authorized inside RunInstances (a standby\'s instance profile), not a call of its own',
  },
};

describe('each function, against the calls its code makes in the simulator', () => {
  it('is allowed every call it made while bootstrapping, healing and building node images, and granted nothing else but the calls listed with their reason', async () => {
    // Prepare: a bootstrap, then a master, a worker and the load balancer holding the EIP lost, and reconcile.
    const fleet = SimulatedFleet.standard({ workers: 2 });
    const plane = new LocalControlPlane(fleet).start();
    try {
      const bootstrap = await plane.execute('bootstrap-cluster', 'bootstrap-demo', consoleInput(fleet));
      expect(bootstrap.error).toBeUndefined();
      const [master, worker, balancer] = [fleet.byRole('master')[1]!, fleet.byRole('worker')[0]!, fleet.byRole('lb')[0]!];
      for (const [instance, state] of [[master, 'terminated'], [worker, 'terminated'], [balancer, 'stopped']] as const) {
        if (state === 'terminated') fleet.terminateInstance(instance.instanceId);
        else fleet.stopInstance(instance.instanceId);
        await plane.deliver(instance.instanceId, state);
        await plane.settle();
      }
      await plane.reconcile();
      // Node images: a build, one whose image fails (discarded), and two more (the fourth removes the first).
      for (const [name, imageFault] of [['image-1', 0], ['image-2', 1], ['image-3', 0], ['image-4', 0]] as const) {
        fleet.imageFaults = imageFault;
        const build = await plane.execute('build-node-image', name, { clusterName: 'demo' });
        expect(build.error?.name).toBe(imageFault ? 'NodeImageFailedError' : undefined);
      }

      // Act: the IAM action of every call, by the function that made it (sim/handler-time.ts).
      const made = new Map<string, Set<string>>();
      for (const call of fleet.calls) {
        if (!call.by) continue;
        const actions = made.get(call.by) ?? new Set<string>();
        actions.add(`${call.service}:${call.operation}`);
        made.set(call.by, actions);
      }

      // Assess
      expect([...made.keys()]).toEqual(expect.arrayContaining(['mintJoinMaterial', 'sendCommand', 'awaitCommand', 'launchReplacement', 'onInstanceStateChange', 'reconcile', 'discardNodeImage', 'pruneNodeImages']));
      for (const [fn, actions] of made) {
        const granted = new Set(resolvedPolicy(roles.get(fn)!, template).Statement.flatMap((statement) => ([] as string[]).concat(statement.Action)));
        for (const action of actions) expect(granted.has(action), `${fn} made ${action}, which its role does not grant`).toBe(true);
        const unused = [...granted].filter((action) => !actions.has(action) && !action.startsWith('logs:'));
        expect(unused.sort(), `${fn}: granted but not called on this run`).toEqual(Object.keys(GRANTED_BEYOND_THE_RUN[fn] ?? {}).sort());
      }
    } finally {
      plane.stop();
    }
  }, 300_000);
});
