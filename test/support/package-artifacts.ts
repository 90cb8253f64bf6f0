// What `sls package` builds, read back: the CloudFormation template and each function's zip (its files and
// their sizes). Shared by the package contract test (size budgets) and bench/cold-start.ts (sizes, init time).
// `sls package` needs no credentials and no network for this stack.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import yauzl from 'yauzl';

export const ROOT = new URL('../..', import.meta.url).pathname;
const ENVIRONMENT = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', SLS_TELEMETRY_DISABLED: '1' };

export interface ZipEntry {
  readonly path: string;
  /** Uncompressed size. */
  readonly bytes: number;
}

export interface Artifact {
  /** The function's key in serverless.yml, which is also the zip's name. */
  readonly functionName: string;
  readonly zipPath: string;
  readonly zipBytes: number;
  readonly entries: ZipEntry[];
}

/** Runs `sls package … --package directory`; throws with everything sls printed when it fails. */
export function slsPackage(args: readonly string[], directory: string): void {
  try {
    execFileSync('npx', ['sls', 'package', ...args, '--package', directory], { cwd: ROOT, stdio: 'pipe', env: ENVIRONMENT });
  } catch (error: unknown) {
    const failure = error as Error & { stdout?: Buffer; stderr?: Buffer };
    throw Object.assign(new Error(`sls package ${args.join(' ')} failed:\n${failure.stdout?.toString() ?? ''}${failure.stderr?.toString() ?? ''}`), { stdout: failure.stdout, stderr: failure.stderr });
  }
}

function open(zipPath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(zipPath, { lazyEntries: true }, (error, zip) => (error ? reject(error) : resolve(zip))));
}

/** Visits every file entry of a zip in order; `onEntry` may read the entry's contents through `read`. */
async function walk(zipPath: string, onEntry: (entry: yauzl.Entry, read: () => Promise<Buffer>) => Promise<void>): Promise<void> {
  const zip = await open(zipPath);
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      const read = () =>
        new Promise<Buffer>((done, fail) =>
          zip.openReadStream(entry, (error, stream) => {
            if (error) return fail(error);
            const chunks: Buffer[] = [];
            stream.on('data', (chunk: Buffer) => chunks.push(chunk));
            stream.on('error', fail);
            stream.on('end', () => done(Buffer.concat(chunks)));
          }),
        );
      const next = entry.fileName.endsWith('/') ? Promise.resolve() : onEntry(entry, read);
      next.then(() => zip.readEntry(), reject);
    });
    zip.readEntry();
  });
}

/** The zips in a package directory, one per function, with their entries' uncompressed sizes. */
export async function readArtifacts(directory: string): Promise<Artifact[]> {
  const artifacts: Artifact[] = [];
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.zip')).sort()) {
    const zipPath = join(directory, file);
    const entries: ZipEntry[] = [];
    await walk(zipPath, async (entry) => {
      entries.push({ path: entry.fileName, bytes: entry.uncompressedSize });
    });
    artifacts.push({ functionName: file.replace(/\.zip$/, ''), zipPath, zipBytes: readFileSync(zipPath).length, entries });
  }
  return artifacts;
}

/** Unpacks a zip into a directory (the function's code as Lambda lays it out under /var/task). */
export async function extractZip(zipPath: string, into: string): Promise<void> {
  await walk(zipPath, async (entry, read) => {
    const target = join(into, entry.fileName);
    if (!target.startsWith(into)) throw new Error(`zip entry escapes the directory: ${entry.fileName}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, await read());
  });
}

/** Total size of the entries whose path matches. */
export function bytesOf(artifact: Artifact, pattern: RegExp): number {
  return artifact.entries.filter((entry) => pattern.test(entry.path)).reduce((sum, entry) => sum + entry.bytes, 0);
}
