import { z } from 'zod';
import { assessMemberRemoval } from './core/healing-steps.js';
import { ipv4, reportFromRunSchema } from './lib/healing-schemas.js';
import { executionFields, task } from './lib/task.js';

/** The quorum guard: QuorumLostError unless every other member is healthy. Pure: it calls nothing. */
export const handler = task('assess-quorum', z.object({ status: reportFromRunSchema, targetIp: ipv4, ...executionFields }), async ({ status, targetIp }, log) => {
  const verdict = assessMemberRemoval(status, targetIp);
  log.info('membership change keeps quorum', { targetIp, membersAfter: verdict.membersAfter });
  return verdict;
});
