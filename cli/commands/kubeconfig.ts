import { resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { kubeconfigSecretName } from '../../functions/core/join-material.js';
import type { Backend } from '../backend.js';
import { CliError, EXIT } from '../errors.js';
import type { Output } from '../format.js';
import { requireCluster } from './cluster.js';

/** The admin kubeconfig into a file only its owner can read; onto standard output only when asked with --stdout. */
export async function kubeconfig(options: { clusterName: string; output: string | undefined; toStdout: boolean }, backend: Backend, out: Output): Promise<number> {
  await requireCluster(options.clusterName, backend);
  const value = await backend.readSecret(kubeconfigSecretName(options.clusterName));
  if (!value.includes('kind: Config')) throw new CliError(`The cluster has not written its admin kubeconfig yet: is ${options.clusterName} bootstrapped?`, EXIT.notFound);
  if (options.toStdout) {
    out.write(out.json ? `${JSON.stringify({ cluster: options.clusterName, kubeconfig: value }, null, 2)}\n` : value);
    return EXIT.ok;
  }
  const path = options.output ?? `${options.clusterName}.kubeconfig`;
  // A new file with mode 600 renamed over any old one: the credentials are never readable by others,
  // not even for a moment in a file that existed with a wider mode.
  writeFileAtomic.sync(path, value, { mode: 0o600 });
  if (out.json) out.write(`${JSON.stringify({ cluster: options.clusterName, path: resolve(path), mode: '600' }, null, 2)}\n`);
  else out.write(`Wrote the admin kubeconfig of ${options.clusterName} to ${path} (mode 600).\nUse it with: export KUBECONFIG=${path}\n`);
  return EXIT.ok;
}
