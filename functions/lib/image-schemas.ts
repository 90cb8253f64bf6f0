// Schemas of what build-node-image hands to its Tasks: a build is ids and a small launch spec.
import { z } from 'zod';
import { clusterNameSchema } from '../core/config.js';
import { documentParameter } from '../core/parameter-patterns.js';
import { clusterContextSchema, instanceId } from './schemas.js';

export { clusterNameSchema, instanceId };

export const imageId = z.string().regex(/^ami-[0-9a-z]{8,32}$/, 'must be an AMI id (ami-…)');
export const buildIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'must be the 16 hex digits of a build id');

export const imageBuildSchema = z.object({
  buildId: buildIdSchema,
  cluster: clusterContextSchema,
  clusterName: clusterNameSchema,
  kubernetesVersion: documentParameter('KubernetesVersion'),
  documentDigest: z.string().regex(/^[A-Za-z0-9]{1,64}$/, 'must be letters and digits'),
  baseImageId: imageId,
  builder: z.object({
    imageId,
    instanceType: z.string().min(1).optional(),
    subnetId: z.string().regex(/^subnet-[0-9a-z]{1,32}$/, 'must be a subnet id'),
    securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-z]{1,32}$/, 'must be a security group id')).optional(),
    iamInstanceProfileArn: z.string().optional(),
    blockDevices: z.array(z.object({ deviceName: z.string(), volumeSize: z.number().int().positive() }).loose()).optional(),
    tags: z.record(z.string(), z.string()),
  }),
});
