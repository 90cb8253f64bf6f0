// `kubeha access grant|revoke|list`: people's client-certificate access to a cluster. The kubeconfig
// goes from the master into the user's secret; this command only ever learns where it is.
import { type GrantRequest, accessMaster, listAccess, runAccessStep, userSecretName, validateGrant, validateUser } from '../../functions/core/access.js';
import { ClusterStateError, CommandFailedError, InputValidationError } from '../../functions/core/errors.js';
import type { Backend } from '../backend.js';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { CliError, EXIT } from '../errors.js';
import { type Output, table, wrap } from '../format.js';
import { requireCluster } from './cluster.js';

export interface GrantOptions {
  readonly clusterName: string;
  readonly user?: string | undefined;
  readonly group?: string | undefined;
  readonly clusterRole?: string | undefined;
  readonly ttl?: string | undefined;
}

export async function accessGrant(options: GrantOptions & ChangeOptions, backend: Backend, out: Output, asker: Asker): Promise<number> {
  const grant = usage(() => validateGrant(options));
  const settings = await requireCluster(options.clusterName, backend);
  const master = await masterFor(options.clusterName, backend);
  const secretName = userSecretName(options.clusterName, grant.user);
  const plan = [
    `Issue a client certificate for ${grant.user} (group ${grant.group}), valid ${grant.ttlHours} h, with kubeadm on master ${master}`,
    `Bind ${grant.user} to ClusterRole ${grant.clusterRole} (ClusterRoleBinding kubeha-access.${grant.user})`,
    `Store the kubeconfig in secret ${secretName}, from the master; it is never printed`,
  ];
  if (!(await confirmChange({ verb: `Access for ${grant.user}`, plan, cluster: options.clusterName }, options, out, asker))) return EXIT.ok;
  const result = await onMaster('grant', grant.user, () => runAccessStep('grant-user-access', { cluster: settings.cluster, master, user: grant.user, grant, secretName }, backend.ports, backend.environment));
  const granted = { cluster: options.clusterName, user: grant.user, group: grant.group, clusterRole: grant.clusterRole, binding: String(result.binding ?? ''), secretName, expiresAt: String(result.expiresAt ?? ''), issuedOn: master };
  if (out.json) {
    out.write(`${JSON.stringify(granted, null, 2)}\n`);
    return EXIT.ok;
  }
  out.write(`${wrap(`${grant.user} (group ${grant.group}) may use ClusterRole ${grant.clusterRole} in ${options.clusterName} until ${granted.expiresAt}.`, out.columns)}\n`);
  out.write(`${wrap(`The kubeconfig is in secret ${secretName}. ${backend.mode === 'simulated' ? 'In AWS, the user would fetch it' : 'Fetch it'} with:`, out.columns)}\n`);
  out.write(`  aws secretsmanager get-secret-value --query SecretString --output text \\\n    --secret-id ${secretName} > ${grant.user}.kubeconfig\n  chmod 600 ${grant.user}.kubeconfig\n`);
  return EXIT.ok;
}

export async function accessRevoke(options: { clusterName: string; user?: string | undefined } & ChangeOptions, backend: Backend, out: Output, asker: Asker): Promise<number> {
  const user = usage(() => validateUser(options.user));
  const settings = await requireCluster(options.clusterName, backend);
  const known = (await listAccess(options.clusterName, backend.ports)).find((entry) => entry.user === user);
  const master = await masterFor(options.clusterName, backend);
  const secretName = userSecretName(options.clusterName, user);
  const plan = [
    `Delete ClusterRoleBinding kubeha-access.${user} on master ${master}`,
    `Delete secret ${secretName} without a recovery window`,
    `The certificate itself stays valid until ${known?.expiresAt || 'it expires'}: Kubernetes cannot revoke client certificates`,
  ];
  if (!(await confirmChange({ verb: `Revocation of ${user}'s access`, plan, cluster: options.clusterName }, options, out, asker))) return EXIT.ok;
  const result = await onMaster('revoke', user, () => runAccessStep('revoke-user-access', { cluster: settings.cluster, master, user, secretName }, backend.ports, backend.environment));
  const revoked = { cluster: options.clusterName, user, bindingDeleted: result.bindingDeleted === true, secretDeleted: result.secretDeleted === true, certificateValidUntil: known?.expiresAt ?? null };
  if (out.json) {
    out.write(`${JSON.stringify(revoked, null, 2)}\n`);
    return EXIT.ok;
  }
  if (!revoked.bindingDeleted && !revoked.secretDeleted) {
    out.write(`${user} had no access kubeha granted in ${options.clusterName}: nothing to revoke.\n`);
    return EXIT.ok;
  }
  const until = known?.expiresAt ? ` until ${known.expiresAt}` : ' until it expires';
  out.write(
    `${wrap(
      `Revoked ${user}: ${[revoked.bindingDeleted && `ClusterRoleBinding kubeha-access.${user}`, revoked.secretDeleted && `secret ${secretName}`].filter(Boolean).join(' and ')} deleted. The certificate stays valid${until}, but authorizes nothing kubeha bound; rotate the cluster CA to make it useless at once.`,
      out.columns,
    )}\n`,
  );
  return EXIT.ok;
}

export async function accessList(options: { clusterName: string }, backend: Backend, out: Output): Promise<number> {
  await requireCluster(options.clusterName, backend);
  const users = await listAccess(options.clusterName, backend.ports);
  if (out.json) {
    out.write(`${JSON.stringify({ cluster: options.clusterName, users }, null, 2)}\n`);
    return EXIT.ok;
  }
  if (users.length === 0) {
    out.write(`Nobody has access to ${options.clusterName} through kubeha access grant.\n`);
    return EXIT.ok;
  }
  out.write(
    `${table(
      ['user', 'group', 'cluster role', 'expires (UTC)', 'secret'],
      users.map((entry) => [entry.user, entry.group, entry.clusterRole, `${entry.expiresAt}${entry.expired ? ' (expired)' : ''}`, entry.secretName]),
      { width: out.columns, optional: ['secret'] },
    )}\n`,
  );
  return EXIT.ok;
}

function usage<T>(validate: () => T): T {
  try {
    return validate();
  } catch (error: unknown) {
    if (error instanceof InputValidationError) throw new CliError(`${error.message}.`, EXIT.usage, { cause: error });
    throw error;
  }
}

async function masterFor(clusterName: string, backend: Backend): Promise<string> {
  try {
    return (await accessMaster(clusterName, backend.ports)).instanceId;
  } catch (error: unknown) {
    if (error instanceof ClusterStateError) throw new CliError(`Cannot change access to ${clusterName}: ${error.message}.`, EXIT.failed, { cause: error });
    throw error;
  }
}

async function onMaster<T>(verb: string, user: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error: unknown) {
    if (error instanceof CommandFailedError) {
      const reasons = error.failures.map((failure) => `${failure.reason} (${failure.instanceId})`).join('; ');
      throw new CliError(`Could not ${verb} access for ${user}: ${reasons.replace(/^kubeha: error: /, '')}`, EXIT.failed, { cause: error });
    }
    throw error;
  }
}

export type { GrantRequest };
