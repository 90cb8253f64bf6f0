// Packages the stack with `sls package` (offline, no credentials) and reads the CloudFormation template it
// writes, for the contract tests. Every run in this directory writes its template to .serverless/ before
// copying it to --package, so two at once swap templates: runs take a lock first, across the test files
// vitest runs in parallel. Also the checks every packaged template must pass, wherever it is packaged.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockSync } from 'proper-lockfile';
import { expect } from 'vitest';
import { type Artifact, ROOT, readArtifacts, slsPackage } from '../support/package-artifacts.js';

export { ROOT };

export interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
export interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
export interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, unknown>;
}

const require = createRequire(import.meta.url);
const cfnspec = require('@aws-cdk/cfnspec') as {
  specification(): { ResourceTypes: Record<string, { Properties: Record<string, { Required?: boolean }> }> };
};

/**
 * Holds the packaging lock of this checkout while `run` runs, waiting for another test file's run to end.
 * `stale` outlasts any packaging: the lock is refreshed on a timer, which a blocking execFileSync never lets fire.
 */
function whilePackaging<T>(run: () => T): T {
  const lockfilePath = join(tmpdir(), `kubeha-sls-package-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      const release = lockSync(ROOT, { lockfilePath, realpath: false, stale: 30 * 60_000 });
      try {
        return run();
      } finally {
        release();
      }
    } catch (error: unknown) {
      if ((error as { code?: string }).code !== 'ELOCKED' || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
}

/** What the template is made from: a digest of every file under these paths. */
const TEMPLATE_SOURCES = ['serverless.yml', 'package.json', 'infra', 'state-machines', 'ssm-documents', 'functions'];

function sourceDigest(): string {
  const hash = createHash('sha256');
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) visit(join(path, entry));
      return;
    }
    hash.update(path).update(readFileSync(path));
  };
  for (const source of TEMPLATE_SOURCES) visit(join(ROOT, source));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Runs `sls package` with these arguments; returns the template, or throws with what sls printed. Two test
 * files that package the same sources with the same arguments share one run (a minute or more on two cores):
 * the template is kept beside the lock, named by the sources' digest and the arguments.
 */
export function packageTemplate(args: readonly string[]): Template {
  return whilePackaging(() => {
    const cached = join(tmpdir(), `kubeha-template-${sourceDigest()}-${createHash('sha256').update(args.join('\0')).digest('hex').slice(0, 12)}.json`);
    if (existsSync(cached)) return JSON.parse(readFileSync(cached, 'utf8')) as Template;
    const template = packageTemplateNow(args);
    writeFileSync(cached, JSON.stringify(template));
    return template;
  });
}

function packageTemplateNow(args: readonly string[]): Template {
  const directory = mkdtempSync(join(tmpdir(), 'kubeha-package-'));
  try {
    slsPackage(args, directory);
    return JSON.parse(readFileSync(join(directory, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Like packageTemplate, with each function's zip read back (entries and sizes) before the directory goes. */
export async function packageStack(args: readonly string[]): Promise<{ template: Template; artifacts: Artifact[] }> {
  const directory = mkdtempSync(join(tmpdir(), 'kubeha-package-'));
  try {
    // Only packaging needs the lock: the zips are read from this run's own directory afterwards.
    whilePackaging(() => slsPackage(args, directory));
    const template = JSON.parse(readFileSync(join(directory, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
    return { template, artifacts: await readArtifacts(directory) };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Runs `sls package` expecting it to fail; returns everything it printed. */
export function failedPackageOutput(args: readonly string[]): string {
  try {
    packageTemplate(args);
  } catch (error: unknown) {
    const failure = error as { stdout?: Buffer; stderr?: Buffer };
    return `${failure.stdout?.toString() ?? ''}${failure.stderr?.toString() ?? ''}`;
  }
  throw new Error(`sls package ${args.join(' ')} succeeded, but was expected to fail`);
}

export function ofType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

export function statementsOf(resource: Resource): Statement[] {
  const policies = (resource.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

export function actionsOf(statement: Statement): string[] {
  return ([] as string[]).concat(statement.Action);
}

/** Every resource a statement names, as text: Fn::Sub strings as written, Ref/GetAtt as `Ref:Id`/`GetAtt:Id.Attr`. */
export function resourcesOf(statement: Statement): string[] {
  return ([] as unknown[]).concat(statement.Resource).map(describe);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Record<string, unknown>;
  if ('Fn::Sub' in object) return String(object['Fn::Sub']);
  if ('Ref' in object) return `Ref:${String(object.Ref)}`;
  if ('Fn::GetAtt' in object) return `GetAtt:${(object['Fn::GetAtt'] as string[]).join('.')}`;
  return JSON.stringify(value);
}

/** Evaluates `Fn::Sub` over pseudo parameters only, as CloudFormation would in the given partition. */
export function substitute(value: unknown, pseudo: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => substitute(item, pseudo));
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (typeof object['Fn::Sub'] === 'string') {
      return (object['Fn::Sub'] as string).replace(/\$\{(AWS::[A-Za-z]+)\}/g, (whole, name: string) => pseudo[name] ?? whole);
    }
    return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, substitute(item, pseudo)]));
  }
  return value;
}

/** Resource types and properties CloudFormation knows (from @aws-cdk/cfnspec), with every required property set. */
export function expectValidForCloudFormation(template: Template): void {
  const spec = cfnspec.specification().ResourceTypes;
  for (const [id, resource] of Object.entries(template.Resources)) {
    const type = spec[resource.Type];
    expect(type, `${id} has unknown type ${resource.Type}`).toBeDefined();
    for (const property of Object.keys(resource.Properties ?? {})) {
      expect(Object.keys(type!.Properties), `${id} (${resource.Type}) has unknown property ${property}`).toContain(property);
    }
    for (const [property, definition] of Object.entries(type!.Properties)) {
      if (definition.Required) expect(resource.Properties, `${id} lacks required ${property}`).toHaveProperty(property);
    }
  }
}

/** Every `arn:<partition>:` written out literally: there must be none, the partition comes from `${AWS::Partition}`. */
export function hardCodedPartitions(template: Template): string[] {
  return JSON.stringify(template).match(/arn:aws[a-z-]*:[^"]*/g) ?? [];
}
