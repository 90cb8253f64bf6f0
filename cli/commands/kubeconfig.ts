import { chmodSync, writeFileSync } from 'node:fs';
import { kubeconfigSecretName } from '../../functions/core/join-material.js';
import { type Backend, CliError, EXIT } from '../backend.js';
import type { Output } from '../format.js';

export async function kubeconfig(options: { clusterName: string; output: string | undefined; toStdout: boolean }, backend: Backend, out: Output): Promise<number> {
  await backend.ensureBootstrapped(options.clusterName);
  const value = await backend.readSecret(kubeconfigSecretName(options.clusterName));
  if (!value.includes('kind: Config')) throw new CliError(`The cluster has not written its admin kubeconfig yet: is ${options.clusterName} bootstrapped?`, EXIT.notFound);
  if (options.toStdout) {
    out.write(value);
    return EXIT.ok;
  }
  const path = options.output ?? `${options.clusterName}.kubeconfig`;
  writeFileSync(path, value, { mode: 0o600 });
  chmodSync(path, 0o600);
  out.write(`Wrote the admin kubeconfig of ${options.clusterName} to ${path} (mode 600). Use it with: export KUBECONFIG=${path}\n`);
  return EXIT.ok;
}
