// Defaults a platform engineer sets once: the cluster (and stage, profile, region) from the
// environment or from ~/.config/kubeha/config.json, so `kubeha status` needs no flags on their laptop.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError, EXIT } from './errors.js';

const ConfigFile = z
  .object({
    cluster: z.string().optional(),
    stage: z.string().optional(),
    profile: z.string().optional(),
    region: z.string().optional(),
  })
  .strict();

export type Defaults = z.infer<typeof ConfigFile> & { readonly source?: string };

export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'kubeha', 'config.json');
}

/** The config file's values, with KUBEHA_CLUSTER and KUBEHA_STAGE taking precedence over it. */
export function readDefaults(env: Readonly<Record<string, string | undefined>>): Defaults {
  const path = configPath(env);
  let fromFile: z.infer<typeof ConfigFile> = {};
  if (existsSync(path)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error: unknown) {
      throw new CliError(`${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`, EXIT.usage, { cause: error });
    }
    const parsed = ConfigFile.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CliError(`${path}: ${issue?.path.join('.') || 'the file'}: ${issue?.message ?? 'is not valid'} (it may hold cluster, stage, profile and region, each a string).`, EXIT.usage);
    }
    fromFile = parsed.data;
  }
  return {
    ...fromFile,
    ...(env.KUBEHA_CLUSTER ? { cluster: env.KUBEHA_CLUSTER } : {}),
    ...(env.KUBEHA_STAGE ? { stage: env.KUBEHA_STAGE } : {}),
  };
}
