// kubeha: the operator's command line. AWS CLI conventions: --profile, --region, the standard
// credential chain, --json for machine output, exit codes scripts can rely on, --help everywhere.
// --simulate runs any command against a simulated account kept on this machine.
//
// commander parses the arguments: it writes the help from the same definitions it parses with,
// suggests the nearest command or option on a typo, and is the most used parser on the registry.
import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, Option } from 'commander';
import { CLUSTER_NAME } from '../functions/core/config.js';
import { setLogSink } from '../functions/core/log.js';
import type { Backend } from './backend.js';
import type { Following } from './commands/follow.js';
import { completionScript } from './completion.js';
import { type Asker, terminalAsker } from './confirm.js';
import { configPath, readDefaults } from './defaults.js';
import { CliError, EXIT, EXIT_INTERRUPTED, explainAwsError } from './errors.js';
import { DEFAULT_COLUMNS, type Output, type Terminal } from './format.js';
import { openBackend } from './open-backend.js';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Standard output is a terminal. */
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The terminal standard output is, for its size. */
  readonly terminal?: Terminal | undefined;
  /** Who answers "Go ahead?"; by default the terminal, when standard input is one. */
  readonly asker?: Asker | undefined;
  /** True once the reader of standard output went away (`| head`): a watch stops then. */
  readonly outputClosed?: (() => boolean) | undefined;
  /** Sets what Ctrl-C does while the command runs: the handler returns an exit code to leave at once, or undefined to finish first. */
  readonly onInterrupt?: ((handler: () => number | undefined) => () => void) | undefined;
}

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const EXIT_CODES = `Exit codes:
  0  done
  1  the workflow failed (the failing step, instance and reason are printed)
  2  bad usage or input (or a Node.js older than 22)
  3  blocked: preflight findings, a refused drill, a declined or impossible confirmation
  4  no usable AWS credentials or region, or access denied
  5  not found: the cluster, instance or execution does not exist`;

interface Selected {
  readonly name: string;
  readonly options: Record<string, unknown>;
  readonly args: string[];
}

function commonOptions(command: Command, needs: { cluster?: boolean; change?: boolean; progress?: boolean } = {}): Command {
  if (needs.cluster !== false) command.option('--cluster <name>', 'the cluster (default: $KUBEHA_CLUSTER, or "cluster" in ~/.config/kubeha/config.json)');
  command
    .option('--stage <stage>', 'the deployed kubeha stage (default: $KUBEHA_STAGE, the config file, or dev)')
    .option('--profile <name>', 'AWS profile (default: the standard credential chain); with --simulate, the simulated account (default: "default")')
    .option('--region <region>', 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile in ~/.aws/config)')
    .option('--simulate', 'work on a simulated account kept on this machine, no AWS needed')
    .option('--json', 'print nothing but JSON on standard output (errors too, as {"error": ...})')
    .option('--debug', 'show stack traces with errors');
  if (needs.progress) command.option('--no-progress', 'print one plain line per step, even on a terminal');
  if (needs.change) {
    command.option('-y, --yes', 'go ahead without asking (needed where no terminal can ask, as in scripts)').option('--dry-run', 'print what would be done, change nothing, exit 0');
  }
  return command;
}

/** One line each for `kubeha --help`; each command's own help has the full description. */
const SUMMARIES: Record<string, string> = {
  plan: 'preflight checks and the steps bootstrap would take; changes nothing',
  bootstrap: 'bootstrap a cluster and follow the workflow to its end',
  status: 'instances, nodes, etcd, Elastic IP, lock and recent executions',
  kubeconfig: 'write the admin kubeconfig to a file only you can read',
  rotate: 'mint fresh join material and register it on a master',
  heal: 'run the healing workflow of one instance by hand',
  drill: 'break an instance on purpose and report what users saw',
  access: 'grant, revoke and list people\'s client-certificate access',
};

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;

/** The command tree: what the help shows, what completion offers and what is parsed are the same. */
export function buildProgram(select: (selected: Selected) => void): Command {
  const program = new Command('kubeha')
    .description('Bootstrap and heal self-managed kubeadm HA Kubernetes clusters on EC2.\nEvery command runs against AWS, or offline against a simulated account with --simulate.')
    .version(VERSION, '-V, --version', 'print the version of kubeha')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .addHelpText('after', `\n${EXIT_CODES}\n${examples('npx kubeha bootstrap --cluster prod-eu --input examples/bootstrap-input.json --simulate --yes', 'npx kubeha status --cluster prod-eu --simulate')}`);
  const action = (name: string) =>
    function (this: Command, ...args: unknown[]) {
      select({ name, options: this.opts(), args: args.filter((arg): arg is string => typeof arg === 'string') });
    };
  const add = (name: string, description: string, needs: Parameters<typeof commonOptions>[1], ...example: string[]) =>
    commonOptions(program.command(name).summary(SUMMARIES[name] ?? description).description(description), needs).addHelpText('after', examples(...example)).action(action(name));

  add('plan', 'discover the tagged instances, run every preflight check and print the steps bootstrap would take; changes nothing, exits 3 on blocking findings', {}, 'npx kubeha plan --cluster prod-eu --input examples/bootstrap-input.json --simulate').requiredOption('--input <file>', 'the bootstrap input, a JSON file like examples/bootstrap-input.json');
  add('bootstrap', 'show the plan, ask, then start the bootstrap-cluster workflow and follow it to its end', { change: true, progress: true }, 'npx kubeha bootstrap --cluster prod-eu --input examples/bootstrap-input.json --simulate --yes').requiredOption('--input <file>', 'the bootstrap input, a JSON file like examples/bootstrap-input.json');
  add('status', 'every instance with its state, node readiness and etcd health; the Elastic IP holder, the healing lock and recent executions', {}, 'npx kubeha status --cluster prod-eu --simulate', 'npx kubeha status --cluster prod-eu --watch --interval 10')
    .option('-w, --watch', 'look again every --interval seconds until Ctrl-C (with --json: one JSON object per line)')
    .option('--interval <seconds>', 'seconds between looks with --watch', '5');
  add('kubeconfig', 'write the admin kubeconfig to a file only you can read (mode 600)', {}, 'npx kubeha kubeconfig --cluster prod-eu --simulate --output prod-eu.kubeconfig')
    .option('-o, --output <file>', 'where to write it (default: ./CLUSTER.kubeconfig)')
    .option('--stdout', 'print the kubeconfig, credentials included, on standard output instead');
  add('rotate', 'mint fresh join material (token and certificate key) and register it on a joined master', { change: true }, 'npx kubeha rotate --cluster prod-eu --simulate --yes');
  add('heal', 'run the healing workflow of one instance by hand, as its EC2 event would', { change: true, progress: true }, 'npx kubeha heal --cluster prod-eu --instance i-0abc12345def67890 --simulate --dry-run').option('--instance <id>', 'the instance to heal (required)');
  add('drill', 'stop or terminate an instance on purpose, let kubeha heal it, and report what users saw; refuses a drill that could break quorum', { change: true, progress: true }, 'npx kubeha drill --cluster prod-eu --target master --action terminate --simulate --yes', 'npx kubeha drill --cluster prod-eu --target lb --action stop --dry-run')
    .option('--target <role[:id]>', 'master, worker or lb, optionally with an instance: master:i-0abc12345def67890 (required)')
    .addOption(new Option('--action <action>', 'what the drill does to the target (required)').choices(['stop', 'terminate']));
  const access = program.command('access').summary(SUMMARIES.access!).description("people's access to a cluster: a client-certificate kubeconfig issued on a master, bound by RBAC to a ClusterRole, kept in Secrets Manager under the user");
  commonOptions(access.command('grant').description('issue a kubeconfig for a user (kubeadm kubeconfig user on a master), bind the user to a ClusterRole and store the kubeconfig in kubeha/<stage>/<cluster>/users/<user>; prints only where it is'), { change: true })
    .option('--user <name>', 'who (the certificate\'s CN): lowercase letters, digits, . @ _ - (required)')
    .option('--group <group>', 'the group in the certificate (its O); system: groups are refused (required)')
    .option('--cluster-role <role>', 'the ClusterRole to bind the user to', 'view')
    .option('--ttl <duration>', 'how long the certificate is valid: hours or days, such as 8h or 7d, at most 30d', '24h')
    .addHelpText('after', examples('npx kubeha access grant --cluster prod-eu --user alice --group app-team --cluster-role edit --ttl 8h --simulate --yes'))
    .action(action('access grant'));
  commonOptions(access.command('revoke').description("delete a user's ClusterRoleBinding and kubeconfig secret; the certificate stays valid until it expires (Kubernetes cannot revoke client certificates)"), { change: true })
    .option('--user <name>', 'whose access (required)')
    .addHelpText('after', examples('npx kubeha access revoke --cluster prod-eu --user alice --simulate --yes'))
    .action(action('access revoke'));
  commonOptions(access.command('list').description('who has access through kubeha: user, group, ClusterRole, expiry and secret, from the secrets\' tags (no secret is read)'))
    .addHelpText('after', examples('npx kubeha access list --cluster prod-eu --simulate'))
    .action(action('access list'));
  const image = program.command('image').summary('prepared node images').description('prepared node images: the pinned node packages and kubeadm images baked into an AMI that replacements launch from');
  commonOptions(image.command('build').description("bake a prepared node image from the cluster's base image and record it in the cluster settings; the builder is always terminated"), { change: true, progress: true })
    .addHelpText('after', examples('npx kubeha image build --cluster prod-eu --simulate --yes', 'npx kubeha image build --cluster prod-eu --dry-run'))
    .action(action('image build'));
  commonOptions(program.command('follow').summary('re-attach to an execution and follow it to its end').description('re-attach to an execution started earlier (after Ctrl-C, or by an EC2 event) and follow it to its end'), { cluster: false, progress: true })
    .addArgument(new Argument('<execution>', 'the execution ARN kubeha printed'))
    .addHelpText('after', examples('npx kubeha follow arn:aws:states:eu-west-1:123456789012:execution:kubeha-dev-bootstrap-cluster:prod-eu-bootstrap-20261124090000'))
    .action(action('follow'));
  const simulate = program.command('simulate').summary('reset or show the simulated account').description('manage the simulated account that --simulate works on');
  simulate
    .command('reset')
    .description('empty the simulated account; the next cluster starts on the given network')
    .option('--vpc-cidr <cidr>', 'the simulated VPC, a /16 to /20 network (default: 10.0.0.0/16)')
    .option('--profile <name>', 'the simulated account (default: "default")')
    .option('--json', 'print nothing but JSON on standard output')
    .option('-y, --yes', 'go ahead without asking')
    .option('--dry-run', 'print what would be done, change nothing')
    .option('--debug', 'show stack traces with errors')
    .addHelpText('after', examples('npx kubeha simulate reset --yes', 'npx kubeha simulate reset --vpc-cidr 172.31.0.0/16 --yes'))
    .action(action('simulate reset'));
  simulate
    .command('show')
    .description('where the simulated account is kept, its network and its clusters')
    .option('--profile <name>', 'the simulated account (default: "default")')
    .option('--json', 'print nothing but JSON on standard output')
    .option('--debug', 'show stack traces with errors')
    .addHelpText('after', examples('npx kubeha simulate show'))
    .action(action('simulate show'));
  program
    .command('completion')
    .summary('print the bash or zsh completion script')
    .description('print the shell completion script for bash or zsh')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .option('--json', 'print the script inside a JSON object')
    .addHelpText('after', examples('source <(npx kubeha completion bash)    # add to ~/.bashrc', 'source <(npx kubeha completion zsh)     # add to ~/.zshrc'))
    .action(action('completion'));
  return program;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const jsonWanted = argv.includes('--json');
  const report = (error: CliError, debug: boolean) => {
    io.stderr(`kubeha: ${error.message}\n`);
    if (jsonWanted) io.stdout(`${JSON.stringify({ error: { message: error.message, exitCode: error.exitCode } })}\n`);
    if (debug && error.cause instanceof Error) io.stderr(`${error.cause.stack}\n`);
    return error.exitCode;
  };

  let selected: Selected | undefined;
  const program = buildProgram((choice) => {
    selected = choice;
  });
  let usageError = '';
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text) => {
        usageError = text.replace(/^error: /, '').trim().split('\n').join(' ');
      },
    });
    command.commands.forEach(configure);
  };
  configure(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error: unknown) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || (error.code === 'commander.help' && error.exitCode === 0)) return EXIT.ok;
    if (!usageError) return EXIT.usage;
    const command = argv.find((arg) => !arg.startsWith('-')) ?? '';
    const help = program.commands.some((candidate) => candidate.name() === command) ? `kubeha ${command} --help` : 'kubeha --help';
    return report(new CliError(`${usageError}${/[.?)]$/.test(usageError) ? '' : '.'} Run \`${help}\` for the options.`, EXIT.usage), false);
  }
  if (!selected) return EXIT.usage;
  const { name, options, args } = selected;
  const debug = Boolean(options.debug);

  // Handler logs are for CloudWatch; on a terminal they would bury the progress display.
  const restoreLogs = setLogSink(() => undefined);
  let followingArn: string | undefined;
  let lastArn: string | undefined;
  let interrupted = false;
  const simulated = Boolean(options.simulate);
  const reattach = (executionArn: string) =>
    ['npx kubeha follow', executionArn, simulated ? '--simulate' : '', ...(['profile', 'region', 'stage'] as const).map((key) => (options[key] ? `--${key} ${String(options[key])}` : ''))].filter(Boolean).join(' ');
  const stopInterrupts = io.onInterrupt?.(() => {
    if (!followingArn) return EXIT_INTERRUPTED;
    const again = reattach(followingArn);
    if (!simulated) {
      io.stderr(`\nkubeha: stopped following; the execution goes on in Step Functions. Re-attach with:\n  ${again}\n`);
      return EXIT_INTERRUPTED;
    }
    interrupted = true;
    io.stderr(`\nkubeha: a simulated execution runs inside this command, so it finishes and is saved first\n(Ctrl-C again abandons it). See it afterwards with:\n  ${again}\n`);
    return undefined;
  });
  const json = Boolean(options.json);
  const out: Output & Following = {
    isTTY: io.isTTY && !json && options.progress !== false && Boolean(io.terminal),
    json,
    columns: io.isTTY && io.terminal ? io.terminal.columns() : DEFAULT_COLUMNS,
    terminal: io.terminal,
    write: (text) => {
      if (!interrupted) io.stdout(text);
    },
    error: io.stderr,
    following: (executionArn) => {
      followingArn = executionArn;
      lastArn = executionArn ?? lastArn;
    },
  };
  const asker = io.asker ?? terminalAsker(false);
  const change = { yes: Boolean(options.yes), dryRun: Boolean(options.dryRun) };
  let backend: Backend | undefined;
  try {
    if (name === 'completion') {
      const script = completionScript(program, args[0] as 'bash' | 'zsh');
      io.stdout(json ? `${JSON.stringify({ shell: args[0], script }, null, 2)}\n` : script);
      return EXIT.ok;
    }
    // Each command's module is loaded when it runs, so --help, --version and completion start fast.
    if (name === 'simulate reset') return await (await import('./commands/simulate.js')).simulateReset({ account: (options.profile as string | undefined) ?? 'default', vpcCidr: options.vpcCidr as string | undefined, ...change }, io.env, out, asker);
    if (name === 'simulate show') return await (await import('./commands/simulate.js')).simulateShow({ account: (options.profile as string | undefined) ?? 'default' }, io.env, out);

    const defaults = readDefaults(io.env);
    const clusterName = (options.cluster as string | undefined) ?? defaults.cluster;
    if (name !== 'follow') {
      if (!clusterName) throw new CliError(`--cluster is required: pass --cluster NAME, set KUBEHA_CLUSTER, or put {"cluster": "NAME"} in ${configPath(io.env)}.`, EXIT.usage);
      if (!CLUSTER_NAME.test(clusterName)) throw new CliError(`--cluster is "${clusterName}", which is not a valid cluster name (3-32 lowercase letters, digits, hyphens).`, EXIT.usage);
    }
    const open = () =>
      openBackend({
        simulate: simulated,
        profile: (options.profile as string | undefined) ?? defaults.profile,
        region: (options.region as string | undefined) ?? defaults.region,
        stage: (options.stage as string | undefined) ?? defaults.stage ?? 'dev',
        clusterName,
        env: io.env,
      });
    if (name === 'status') {
      const intervalSeconds = Number(options.interval);
      if (!(intervalSeconds > 0)) throw new CliError(`--interval must be a number of seconds above 0, not "${String(options.interval)}".`, EXIT.usage);
      return await (await import('./commands/status.js')).status({ clusterName: clusterName!, watch: Boolean(options.watch), intervalSeconds, stopped: io.outputClosed ?? (() => false) }, open, out);
    }
    backend = await open();
    const code = await run(name, { ...options, clusterName: clusterName!, args }, change, backend, out, asker);
    await backend.close();
    backend = undefined;
    if (interrupted) {
      io.stderr(`kubeha: the simulated execution finished and is saved. See it with:\n  ${reattach(lastArn ?? 'EXECUTION')}\n`);
      return EXIT_INTERRUPTED;
    }
    return code;
  } catch (error: unknown) {
    await backend?.close().catch(() => undefined);
    const explained = error instanceof CliError ? error : explainAwsError(error);
    if (explained) return report(explained, debug);
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (debug && error instanceof Error) io.stderr(`${error.stack}\n`);
    return report(new CliError(`${name} failed: ${reason}. Run again with --debug for details.`, EXIT.failed), false);
  } finally {
    stopInterrupts?.();
    restoreLogs();
  }
}

async function run(name: string, options: Record<string, unknown> & { clusterName: string; args: string[] }, change: { yes: boolean; dryRun: boolean }, backend: Backend, out: Output & Following, asker: Asker): Promise<number> {
  const clusterName = options.clusterName;
  switch (name) {
    case 'plan':
      return (await import('./commands/plan.js')).plan({ clusterName, inputPath: options.input as string }, backend, out);
    case 'bootstrap':
      return (await import('./commands/bootstrap.js')).bootstrap({ clusterName, inputPath: options.input as string, ...change }, backend, out, asker);
    case 'kubeconfig':
      return (await import('./commands/kubeconfig.js')).kubeconfig({ clusterName, output: options.output as string | undefined, toStdout: Boolean(options.stdout) }, backend, out);
    case 'rotate':
      return (await import('./commands/rotate.js')).rotate({ clusterName, ...change }, backend, out, asker);
    case 'heal':
      return (await import('./commands/heal.js')).heal({ clusterName, instanceId: options.instance as string | undefined, ...change }, backend, out, asker);
    case 'drill':
      return (await (await import('./commands/drill.js')).drill({ clusterName, target: options.target as string | undefined, action: options.action as string | undefined, ...change }, backend, out, asker)).code;
    case 'access grant':
      return (await import('./commands/access.js')).accessGrant({ clusterName, user: options.user as string | undefined, group: options.group as string | undefined, clusterRole: options.clusterRole as string | undefined, ttl: options.ttl as string | undefined, ...change }, backend, out, asker);
    case 'access revoke':
      return (await import('./commands/access.js')).accessRevoke({ clusterName, user: options.user as string | undefined, ...change }, backend, out, asker);
    case 'access list':
      return (await import('./commands/access.js')).accessList({ clusterName }, backend, out);
    case 'image build':
      return (await import('./commands/image.js')).imageBuild({ clusterName, ...change }, backend, out, asker);
    case 'follow':
      return (await import('./commands/follow.js')).follow({ executionArn: options.args[0] ?? '' }, backend, out);
    default:
      throw new CliError(`unknown command "${name}"`, EXIT.usage);
  }
}
