// The bootstrap input a user pastes into the console, its validation and its normalized form.
// Validation here is pure: anything that needs AWS (VPC overlap, EIP existence) is preflight's job.
import { z } from 'zod';
import { cidrProblem, overlaps, parseCidr, prefixLength } from './cidr.js';
import { InputValidationError } from './errors.js';
import { externalServicesSchema, nodeProfilesSchema, profileIssues } from './node-profile.js';
import { parameterPattern } from './parameter-patterns.js';
import { SUPPORTED_CNI, kubernetesVersionProblem } from './versions.js';

export const CLUSTER_NAME = parameterPattern('ClusterName');
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

const RESERVED_RANGES = [
  { cidr: '127.0.0.0/8', why: 'loopback' },
  { cidr: '169.254.0.0/16', why: 'link-local, where the EC2 instance metadata service lives' },
  { cidr: '224.0.0.0/4', why: 'multicast' },
];

export const clusterNameSchema = z
  .string()
  .regex(CLUSTER_NAME, 'must be 3-32 lowercase letters, digits or hyphens, starting with a letter');

const launchTemplateSchema = z.strictObject({
  launchTemplateId: z.string().regex(/^lt-[0-9a-f]{8,17}$/, 'must be a launch template id such as lt-0abc12345def67890'),
  version: z.string().regex(/^(\$Latest|\$Default|\d+)$/, 'must be $Latest, $Default or a version number').default('$Default'),
});

export const bootstrapInputSchema = z.strictObject({
  clusterName: clusterNameSchema,
  kubernetesVersion: z.string(),
  elasticIpAllocationId: z.string().regex(/^eipalloc-[0-9a-f]{8,17}$/, 'must be an allocation id such as eipalloc-0abc12345def67890'),
  controlPlaneDnsName: z.string().regex(DNS_NAME, 'must be a lowercase DNS name such as k8s.example.com').optional(),
  podCidr: z.string(),
  serviceCidr: z.string(),
  cni: z
    .strictObject({
      plugin: z.literal('calico', 'must be "calico"'),
      version: z.string(),
    })
    .default({ plugin: 'calico', version: 'v3.31.3' }),
  loadBalancerPort: z.number().int('must be a whole number').min(1024, 'must be 1024 or above').max(65535, 'must be 65535 or below').default(6443),
  workerBatchSize: z.number().int('must be a whole number').min(1, 'must be at least 1').max(50, 'must be at most 50: SendCommand takes 50 targets').default(50),
  stepTimeoutMinutes: z.number().int('must be a whole number').min(5, 'must be at least 5').max(120, 'must be at most 120').default(30),
  healing: z
    .strictObject({
      startStoppedInstances: z.boolean('must be true or false').default(true),
      recoveryTimeoutMinutes: z.number().int('must be a whole number').min(2, 'must be at least 2').max(60, 'must be at most 60').default(10),
      /**
       * Days before a master's kubeadm certificates expire (they last 365) from which kubeha acts on them:
       * below 365 minus the days a renewal takes to notice, so that a renewed certificate is out of range.
       */
      /** Renew certificates within certificateRenewalDays (renew-certificates), or only tell a human. */
      renewCertificates: z.boolean('must be true or false').default(true),
      certificateRenewalDays: z.number().int('must be a whole number').min(7, 'must be at least 7').max(180, 'must be at most 180: certificates last 365 days').default(30),
      /** Warm standbys (standbys.ts): prepared, stopped instances a heal starts instead of launching one. */
      standbys: z
        .strictObject({
          master: z.number().int('must be a whole number').min(0, 'must be between 0 and 3').max(3, 'must be at most 3: master standbys wait one per availability zone of the masters').default(0),
          worker: z.number().int('must be a whole number').min(0, 'must be between 0 and 3').max(3, 'must be at most 3').default(0),
        })
        .default({ master: 0, worker: 0 }),
    })
    .default({ startStoppedInstances: true, recoveryTimeoutMinutes: 10, certificateRenewalDays: 30, renewCertificates: true, standbys: { master: 0, worker: 0 } }),
  launchTemplates: z
    .strictObject({
      master: launchTemplateSchema.optional(),
      worker: launchTemplateSchema.optional(),
      lb: launchTemplateSchema.optional(),
    })
    .optional(),
  /** What a node of a role needs before it joins (GlusterFS mounts): node-profile.ts. */
  nodeProfiles: nodeProfilesSchema.optional(),
  /** Endpoints the applications need, checked from a worker at verify, reconcile and status. */
  externalServices: externalServicesSchema.optional(),
});

export type BootstrapInput = z.input<typeof bootstrapInputSchema>;
export type ClusterConfig = z.output<typeof bootstrapInputSchema>;

/** Validates and normalizes the console input. Throws InputValidationError listing every problem. */
export function parseBootstrapInput(raw: unknown, today: Date): ClusterConfig {
  const parsed = bootstrapInputSchema.safeParse(raw);
  if (!parsed.success) throw new InputValidationError(zodIssues(parsed.error, raw));
  const config = parsed.data;
  const issues: { field: string; reason: string }[] = [];

  const versionProblem = kubernetesVersionProblem(config.kubernetesVersion, today);
  if (versionProblem) issues.push({ field: 'kubernetesVersion', reason: versionProblem });
  if (!SUPPORTED_CNI[config.cni.plugin].test(config.cni.version)) {
    issues.push({ field: 'cni.version', reason: 'must be a pinned Calico release from v3.28.0 on, such as v3.31.3' });
  }

  for (const field of ['podCidr', 'serviceCidr'] as const) {
    const problem = cidrProblem(config[field]);
    if (problem) issues.push({ field, reason: problem });
  }
  issues.push(...profileIssues(config.nodeProfiles, config.externalServices));
  if (!issues.some((issue) => issue.field.endsWith('Cidr'))) {
    issues.push(...cidrLayoutIssues(config.podCidr, config.serviceCidr));
  }
  if (issues.length > 0) throw new InputValidationError(issues);
  return config;
}

function cidrLayoutIssues(podCidr: string, serviceCidr: string): { field: string; reason: string }[] {
  const issues: { field: string; reason: string }[] = [];
  const pods = parseCidr(podCidr);
  const services = parseCidr(serviceCidr);
  if (overlaps(pods, services)) {
    issues.push({ field: 'serviceCidr', reason: `overlaps podCidr ${podCidr}` });
  }
  const podPrefix = prefixLength(pods);
  if (podPrefix > 22 || podPrefix < 8) {
    issues.push({ field: 'podCidr', reason: 'prefix must be between /8 and /22 so each node can get a /24' });
  }
  const servicePrefix = prefixLength(services);
  if (servicePrefix < 12 || servicePrefix > 24) {
    issues.push({ field: 'serviceCidr', reason: 'prefix must be between /12 (kube-apiserver maximum) and /24' });
  }
  for (const reserved of RESERVED_RANGES) {
    for (const [field, range] of [['podCidr', pods], ['serviceCidr', services]] as const) {
      if (overlaps(range, parseCidr(reserved.cidr))) {
        issues.push({ field, reason: `overlaps ${reserved.cidr} (${reserved.why})` });
      }
    }
  }
  return issues;
}

/** Maps zod issues to field/reason pairs; unknown keys are reported one per key, absent fields as required. */
export function zodIssues(error: z.ZodError, raw: unknown): { field: string; reason: string }[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, reason: 'is not a known field' }));
    }
    if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined) {
      return [{ field: base || '(input)', reason: 'is required' }];
    }
    return [{ field: base || '(input)', reason: issue.message }];
  });
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
