import { existsSync } from 'node:fs';
import { type Asker, type ChangeOptions, confirmChange } from '../confirm.js';
import { EXIT } from '../errors.js';
import type { Output } from '../format.js';
import { DEFAULT_VPC_CIDR, accountPath, openAccount, resetAccount, vpcCidrProblem } from '../simulated-account.js';
import { CliError } from '../errors.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** `kubeha simulate reset`: the simulated account emptied, on the default network or the one given. */
export async function simulateReset(options: { account: string; vpcCidr: string | undefined } & ChangeOptions, env: Environment, out: Output, asker: Asker): Promise<number> {
  const vpcCidr = options.vpcCidr ?? DEFAULT_VPC_CIDR;
  const problem = vpcCidrProblem(vpcCidr);
  if (problem) throw new CliError(`--vpc-cidr ${vpcCidr} ${problem}.`, EXIT.usage);
  const path = accountPath(env, options.account);
  const plan = [`Delete the simulated account "${options.account}" (${path}) and every cluster in it`, `Start the next cluster in a VPC of ${vpcCidr}`];
  if (!(await confirmChange({ verb: `Reset of simulated account "${options.account}"`, plan, subject: 'the simulated account' }, options, out, asker))) return EXIT.ok;
  await resetAccount(env, options.account, vpcCidr);
  if (out.json) out.write(`${JSON.stringify({ account: options.account, path, vpcCidr, clusters: [] }, null, 2)}\n`);
  else out.write(`Simulated account "${options.account}" is empty; its VPC is ${vpcCidr}.\n`);
  return EXIT.ok;
}

/** `kubeha simulate show`: where the simulated account lives, its network and its clusters. */
export async function simulateShow(options: { account: string }, env: Environment, out: Output): Promise<number> {
  const path = accountPath(env, options.account);
  const exists = existsSync(path);
  const account = await openAccount(env, options.account);
  try {
    const clusters = account.clusters();
    const summary = { account: options.account, path, exists, vpcCidr: account.vpcCidr, clusters, executions: account.fleet.executions.size };
    if (out.json) out.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      out.write(`Simulated account "${options.account}": ${exists ? path : `${path} (not written yet)`}\n`);
      out.write(`VPC ${account.vpcCidr}; clusters: ${clusters.length ? clusters.join(', ') : 'none'}; ${summary.executions} execution(s).\n`);
    }
    return EXIT.ok;
  } finally {
    await account.release();
  }
}
