// kubeha: the operator's command line. AWS CLI conventions: --profile, --region, the standard
// credential chain, --json for machine output, exit codes scripts can rely on, --help everywhere.
// --simulate runs any command against a simulated account on this machine.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setLogSink } from '../functions/core/log.js';
import { CLUSTER_NAME } from '../functions/core/config.js';
import { type Backend, CliError, EXIT, createBackend } from './backend.js';
import { bootstrap } from './commands/bootstrap.js';
import { drill } from './commands/drill.js';
import { heal } from './commands/heal.js';
import { kubeconfig } from './commands/kubeconfig.js';
import { plan } from './commands/plan.js';
import { rotate } from './commands/rotate.js';
import { status } from './commands/status.js';
import type { Output } from './format.js';

const COMMON = `Options for every command:
  --cluster NAME     the cluster (required)
  --stage STAGE      the deployed kubeha stage (default: $KUBEHA_STAGE or dev)
  --profile NAME     AWS profile (the standard credential chain applies otherwise)
  --region REGION    AWS region (default: from the profile or environment)
  --json             machine-readable output
  --simulate         run against a simulated account on this machine, no AWS needed
  --debug            show stack traces
  --help             this help`;

const HELP: Record<string, string> = {
  '': `kubeha - bootstrap and heal self-managed kubeadm clusters on EC2

Usage: kubeha COMMAND --cluster NAME [options]

Commands:
  plan        discover the tagged instances, run every preflight check, print the steps bootstrap would take
  bootstrap   start the bootstrap-cluster state machine and follow it
  status      members, node readiness, etcd health, Elastic IP holder, executions, healing lock
  kubeconfig  write the admin kubeconfig to a file (mode 600)
  rotate      mint fresh join material now and register it on a master
  heal        run the healing workflow of one instance by hand
  drill       stop or terminate an instance on purpose and report what users saw

Exit codes: 0 ok, 1 failed, 2 bad usage or input, 3 blocked (preflight findings, refused drill),
4 no usable AWS credentials or access denied, 5 not found.
Run \`kubeha COMMAND --help\` for a command's own options.`,
  plan: `Usage: kubeha plan --cluster NAME --input FILE [options]
Changes nothing. Exits 3 when a finding blocks the bootstrap, each finding with its fix.`,
  bootstrap: `Usage: kubeha bootstrap --cluster NAME --input FILE [options]
Starts the bootstrap-cluster state machine and follows it: a progress display on a terminal, plain lines otherwise.`,
  status: `Usage: kubeha status --cluster NAME [options]`,
  kubeconfig: `Usage: kubeha kubeconfig --cluster NAME [--output FILE | --stdout] [options]
Writes to ./NAME.kubeconfig by default, with mode 600. It prints credentials only when asked with --stdout.`,
  rotate: `Usage: kubeha rotate --cluster NAME [options]`,
  heal: `Usage: kubeha heal --cluster NAME --instance ID [options]`,
  drill: `Usage: kubeha drill --cluster NAME --target master|worker|lb[:ID] --action stop|terminate [options]
Refuses a drill that could break quorum. Reports success ratio, longest outages and time to heal.`,
};

const OPTIONS = {
  cluster: { type: 'string' },
  input: { type: 'string' },
  stage: { type: 'string' },
  profile: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean' },
  simulate: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  target: { type: 'string' },
  action: { type: 'string' },
  instance: { type: 'string' },
  output: { type: 'string' },
  stdout: { type: 'boolean' },
} as const;

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true; args: string[] }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error: unknown) {
    io.stderr(`kubeha: ${error instanceof Error ? error.message.replace(/\. To specify.*$/, '') : String(error)}. Run \`kubeha --help\` for the options.\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command = '', ...extra] = positionals;
  if (values.help || command === '' || command === 'help') {
    io.stdout(`${HELP[command === 'help' ? (extra[0] ?? '') : command] ?? HELP['']}\n${command && command !== 'help' ? `\n${COMMON}\n` : ''}`);
    return command === '' && !values.help ? EXIT.usage : EXIT.ok;
  }
  if (!(command in HELP)) {
    io.stderr(`kubeha: unknown command "${command}". Run \`kubeha --help\` for the commands.\n`);
    return EXIT.usage;
  }
  if (extra.length > 0) {
    io.stderr(`kubeha: unexpected argument "${extra[0]}". Run \`kubeha ${command} --help\`.\n`);
    return EXIT.usage;
  }
  const clusterName = values.cluster;
  if (!clusterName || !CLUSTER_NAME.test(clusterName)) {
    io.stderr(`kubeha: --cluster is ${clusterName ? `"${clusterName}", which is not a valid cluster name (3-32 lowercase letters, digits, hyphens)` : 'required'}. Run \`kubeha ${command} --help\`.\n`);
    return EXIT.usage;
  }

  const out: Output = { isTTY: io.isTTY && !values.json, json: Boolean(values.json), write: io.stdout, error: io.stderr };
  // Handler logs are for CloudWatch; on a terminal they would bury the progress display.
  const restoreLogs = setLogSink(() => undefined);
  let backend: Backend | undefined;
  try {
    const elasticIpAllocationId = values.simulate && values.input ? readAllocation(values.input) : undefined;
    backend = await createBackend({
      simulate: Boolean(values.simulate),
      profile: values.profile,
      region: values.region,
      stage: values.stage ?? io.env.KUBEHA_STAGE ?? 'dev',
      clusterName,
      elasticIpAllocationId,
    });
    switch (command) {
      case 'plan':
        return await plan({ clusterName, inputPath: values.input }, backend, out);
      case 'bootstrap':
        return await bootstrap({ clusterName, inputPath: values.input }, backend, out);
      case 'status':
        return await status({ clusterName }, backend, out);
      case 'kubeconfig':
        return await kubeconfig({ clusterName, output: values.output, toStdout: Boolean(values.stdout) }, backend, out);
      case 'rotate':
        return await rotate({ clusterName }, backend, out);
      case 'heal':
        return await heal({ clusterName, instanceId: values.instance }, backend, out);
      case 'drill':
        return (await drill({ clusterName, target: values.target, action: values.action }, backend, out)).code;
      default:
        return EXIT.usage;
    }
  } catch (error: unknown) {
    const explained = error instanceof CliError ? error : ((await import('./aws-backend.js')).explainAwsError(error) ?? undefined);
    if (explained) {
      io.stderr(`kubeha: ${explained.message}\n`);
      if (values.debug && explained.cause instanceof Error) io.stderr(`${explained.cause.stack}\n`);
      return explained.exitCode;
    }
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr(`kubeha: ${command} failed: ${reason}. Run again with --debug for details.\n`);
    if (values.debug && error instanceof Error) io.stderr(`${error.stack}\n`);
    return EXIT.failed;
  } finally {
    backend?.close();
    restoreLogs();
  }
}

/** In the simulator the account is made to match the input file's Elastic IP. */
function readAllocation(path: string): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { elasticIpAllocationId?: unknown };
    return typeof parsed.elasticIpAllocationId === 'string' && /^eipalloc-[0-9a-f]{8,17}$/.test(parsed.elasticIpAllocationId) ? parsed.elasticIpAllocationId : undefined;
  } catch {
    return undefined;
  }
}
