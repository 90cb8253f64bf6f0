import { z } from 'zod';
import { ROLES } from './core/cluster.js';
import { portsWith } from './adapters/base.js';
import { ec2 } from './adapters/ec2.js';
import { ssm } from './adapters/ssm.js';
import { stateTable } from './adapters/state-table.js';
import { bootWait } from './core/command-timing.js';
import { launchReplacement } from './core/healing-steps.js';
import { clusterNameSchema, instanceId } from './lib/healing-schemas.js';
import { task } from './lib/task.js';

const ports = portsWith({ ec2, ssm, state: stateTable });

const schema = z.object({
  clusterName: clusterNameSchema,
  deadInstanceId: instanceId,
  role: z.enum(ROLES).optional(),
  pollEverySeconds: z.number().int('must be whole seconds').min(1, 'must be 1-15').max(15, 'must be 1-15').optional(),
  pollSlot: z.number().int('must be a whole second').min(0, 'must be 0-14').max(14, 'must be 0-14').optional(),
  /** From the heal's inspection (HealScope.launch): the settings are then not read again. */
  settings: z
    .object({
      kubernetesVersion: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a Kubernetes version such as 1.36.4'),
      standbysWanted: z.number().int('must be a whole number').min(0, 'must be 0-3').max(3, 'must be 0-3'),
      launchTemplate: z
        .object({
          launchTemplateId: z.string().regex(/^lt-[0-9a-f]{8,17}$/, 'must be a launch template id such as lt-0abc12345def67890'),
          version: z.string().regex(/^(\$Latest|\$Default|\d+)$/, 'must be $Latest, $Default or a version number'),
        })
        .optional(),
      preparedImageId: z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'must be an AMI id such as ami-0abc12345def67890').optional(),
    })
    .optional(),
  executionArn: z.string().min(1),
});

export const handler = task('launch-replacement', schema, async (input, log) => {
  const { boot, alreadyBooting, ...replacement } = await launchReplacement(input, ports);
  log.info(boot === 'start' ? 'started a warm standby as the replacement' : 'launched a replacement', { deadInstanceId: input.deadInstanceId, ...replacement });
  return { ...replacement, instanceIds: [replacement.instanceId], ...bootWait(boot, ports.clock.now(), alreadyBooting, input) };
});
