// Cold start: each Lambda's bundle exactly as `sls package` builds it (osls + serverless-esbuild, the options in
// serverless.yml), its zip, unpacked JavaScript and source-map sizes, and its init time — the median of fresh
// `node` processes requiring the handler module, as the nodejs22.x runtime does at Init — beside a baseline
// bundle built with the same esbuild options that only loads the same AWS SDK clients (eagerly, one client
// each, as Powertools' examples do). The ratio is what kubeha's own code costs on top of the SDK it needs.
// Targets (issue 14): every zip under 1 MB, init at most 1.2× the baseline. A function that calls no AWS
// service has no SDK baseline of its own (an empty bundle measures only node's start); it is held to the
// baseline issue 14 names for every function, a bundle that loads the EC2 and SSM clients eagerly.
// Environment: KUBEHA_BENCH_RUNS (processes per bundle, default 11), KUBEHA_BENCH_PACKAGE (a directory
// `sls package --package` already wrote, to skip packaging).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { type Artifact, ROOT, bytesOf, extractZip, readArtifacts, slsPackage } from '../test/support/package-artifacts.js';

const ZIP_LIMIT_BYTES = 1024 * 1024;
const INIT_RATIO_LIMIT = 1.2;
const PACKAGE_ARGS = ['--stage', 'bench', '--region', 'eu-west-1', '--param', 'clusters=demo'];
/** Issue 14's baseline: the EC2 and SSM clients, loaded eagerly. */
const ISSUE_BASELINE_CLIENTS = ['@aws-sdk/client-ec2', '@aws-sdk/client-ssm'];

/** Each SDK client package and its client class, for the baselines. */
const CLIENT_CLASSES: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'DynamoDBClient',
  '@aws-sdk/client-ec2': 'EC2Client',
  '@aws-sdk/client-s3': 'S3Client',
  '@aws-sdk/client-secrets-manager': 'SecretsManagerClient',
  '@aws-sdk/client-sfn': 'SFNClient',
  '@aws-sdk/client-sns': 'SNSClient',
  '@aws-sdk/client-ssm': 'SSMClient',
};

interface FunctionRow {
  functionName: string;
  handler: string;
  clients: string[];
  zipBytes: number;
  jsBytes: number;
  sourceMapBytes: number;
  initMs: number;
  baselineMs: number;
  ratio: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

/** The esbuild options serverless.yml gives serverless-esbuild, so baselines are built the same way. */
function esbuildOptions(): { minify: boolean; keepNames: boolean; treeShaking: boolean; target: string } {
  const config = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as { custom: { esbuild: Record<string, unknown> } };
  const options = config.custom.esbuild;
  return { minify: options.minify === true, keepNames: options.keepNames === true, treeShaking: options.treeShaking !== false, target: String(options.target) };
}

function handlersOf(): Record<string, string> {
  const config = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as { functions: Record<string, { handler: string }> };
  return Object.fromEntries(Object.entries(config.functions).map(([name, fn]) => [name, fn.handler.replace(/\.handler$/, '')]));
}

/** The SDK client packages kubeha's own modules import into this handler's bundle. */
async function clientsOf(handlerPath: string): Promise<string[]> {
  const result = await build({ entryPoints: [join(ROOT, `${handlerPath}.ts`)], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent' });
  const clients = new Set<string>();
  for (const [input, { imports }] of Object.entries(result.metafile.inputs)) {
    if (input.includes('node_modules')) continue;
    for (const imported of imports) if (imported.original && imported.original in CLIENT_CLASSES) clients.add(imported.original);
  }
  return [...clients].sort();
}

async function buildBaseline(clients: string[], directory: string): Promise<string> {
  const name = clients.length === 0 ? 'none' : clients.map((client) => client.replace('@aws-sdk/client-', '')).join('+');
  const entry = join(directory, `baseline-${name}.cjs`);
  const outfile = join(directory, `baseline-${name}.js`);
  writeFileSync(entry, clients.map((client, index) => `const { ${CLIENT_CLASSES[client]}: C${index} } = require('${client}');\nexports.c${index} = new C${index}({});\n`).join(''));
  const options = esbuildOptions();
  await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'cjs', ...options, nodePaths: [join(ROOT, 'node_modules')], logLevel: 'silent' });
  return outfile;
}

/** ms from process start until the module has been required, in a fresh node process. */
function initOnce(modulePath: string): number {
  const probe = `require(${JSON.stringify(modulePath)}); process.stdout.write(String(performance.now()));`;
  const result = spawnSync(process.execPath, ['-e', probe], {
    encoding: 'utf8',
    // What Lambda sets before Init; no credentials are read at Init (clients resolve them on the first call).
    env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', KUBEHA_DOCUMENT_PREFIX: 'kubeha-bench-' },
  });
  if (result.status !== 0) throw new Error(`requiring ${modulePath} failed: ${result.stderr}`);
  return Number(result.stdout);
}

export async function run(): Promise<{ title: string; markdown: string; json: unknown; missedTargets: string[] }> {
  const runs = Number(process.env.KUBEHA_BENCH_RUNS ?? '11');
  const work = mkdtempSync(join(tmpdir(), 'kubeha-cold-start-'));
  try {
    const packaged = process.env.KUBEHA_BENCH_PACKAGE ?? join(work, 'package');
    if (!process.env.KUBEHA_BENCH_PACKAGE) slsPackage(PACKAGE_ARGS, packaged);
    const artifacts = await readArtifacts(packaged);
    // The same stack with source maps on, for their cost only.
    const withMaps = join(work, 'package-with-source-maps');
    slsPackage([...PACKAGE_ARGS, '--param', 'sourceMaps=true'], withMaps);
    const mapped = new Map((await readArtifacts(withMaps)).map((artifact) => [artifact.functionName, artifact]));

    const handlers = handlersOf();
    // Functions grouped by the SDK clients they use: one baseline per group, timed interleaved with the
    // group's functions, so that load from elsewhere on the machine falls on both alike.
    const groups = new Map<string, { baseline: string; members: { artifact: Artifact; handler: string; clients: string[]; modulePath: string; samples: number[] }[]; samples: number[] }>();
    for (const artifact of artifacts) {
      const handler = handlers[artifact.functionName];
      if (!handler) throw new Error(`${artifact.functionName}.zip has no function in serverless.yml`);
      const clients = await clientsOf(handler);
      const baselineClients = clients.length > 0 ? clients : ISSUE_BASELINE_CLIENTS;
      const key = baselineClients.join(',');
      if (!groups.has(key)) groups.set(key, { baseline: await buildBaseline(baselineClients, work), members: [], samples: [] });
      const unpacked = join(work, 'functions', artifact.functionName);
      await extractZip(artifact.zipPath, unpacked);
      groups.get(key)!.members.push({ artifact, handler, clients, modulePath: join(unpacked, `${handler}.js`), samples: [] });
    }
    const rows: FunctionRow[] = [];
    for (const group of groups.values()) {
      for (let index = 0; index < runs; index += 1) {
        group.samples.push(initOnce(group.baseline));
        for (const member of group.members) member.samples.push(initOnce(member.modulePath));
      }
      const baselineMs = median(group.samples);
      for (const member of group.members) {
        const initMs = median(member.samples);
        process.stderr.write(`cold start: ${member.artifact.functionName} ${initMs.toFixed(0)} ms, baseline ${baselineMs.toFixed(0)} ms\n`);
        rows.push({
          functionName: member.artifact.functionName,
          handler: member.handler,
          clients: member.clients.map((client) => client.replace('@aws-sdk/client-', '')),
          zipBytes: member.artifact.zipBytes,
          jsBytes: bytesOf(member.artifact, /\.js$/),
          sourceMapBytes: bytesOf(member.artifact, /\.map$/),
          initMs,
          baselineMs,
          ratio: initMs / baselineMs,
        });
      }
    }
    rows.sort((a, b) => a.functionName.localeCompare(b.functionName));

    const missedTargets: string[] = [];
    for (const row of rows) {
      if (row.zipBytes >= ZIP_LIMIT_BYTES) missedTargets.push(`cold start: ${row.functionName}.zip is ${kb(row.zipBytes)}, not under 1 MB`);
      if (row.ratio > INIT_RATIO_LIMIT) missedTargets.push(`cold start: ${row.functionName} inits in ${row.initMs.toFixed(0)} ms, ${row.ratio.toFixed(2)}× its baseline (target ≤ ${INIT_RATIO_LIMIT}×)`);
    }
    const mappedSize = (row: FunctionRow, pick: (artifact: Artifact) => number) => {
      const artifact = mapped.get(row.functionName);
      return artifact ? kb(pick(artifact)) : '-';
    };
    const lines = [
      `Bundles as \`sls package\` builds them (source maps off, the default); init: median of ${runs} fresh \`node\` processes (${process.version}), ms from process start until the handler module is loaded; baseline: the same SDK clients alone, loaded and constructed eagerly (the EC2 and SSM clients for a function that calls no AWS service, issue 14's baseline).`,
      '',
      '| function | SDK clients | zip | JS | source map | zip with maps | init | baseline | ratio |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(
        (row) =>
          `| ${row.functionName} | ${row.clients.join(', ') || '-'} | ${kb(row.zipBytes)} | ${kb(row.jsBytes)} | ${row.sourceMapBytes ? kb(row.sourceMapBytes) : '-'} | ${mappedSize(row, (artifact) => artifact.zipBytes)} | ${row.initMs.toFixed(0)} ms | ${row.baselineMs.toFixed(0)} ms | ${row.ratio.toFixed(2)}× |`,
      ),
      '',
      `Largest zip ${kb(Math.max(...rows.map((row) => row.zipBytes)))} (target < 1024 KB); highest init ratio ${Math.max(...rows.map((row) => row.ratio)).toFixed(2)}× (target ≤ ${INIT_RATIO_LIMIT}×).`,
    ];
    return {
      title: 'Cold start',
      markdown: lines.join('\n'),
      json: { runs, node: process.version, targets: { zipBytesBelow: ZIP_LIMIT_BYTES, initRatioAtMost: INIT_RATIO_LIMIT }, functions: rows, withSourceMaps: [...mapped.values()].map((artifact) => ({ functionName: artifact.functionName, zipBytes: artifact.zipBytes, sourceMapBytes: bytesOf(artifact, /\.map$/) })) },
      missedTargets,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
