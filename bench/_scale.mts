import { setLogSink } from '../functions/core/log.js';
import { bootstrapOnFleet, consoleInput } from '../sim/bootstrap.js';
import { SimulatedFleet } from '../sim/fleet.js';
process.env.KUBEHA_DOCUMENT_PREFIX = 'kubeha-bench-';
process.env.AWS_REGION = 'eu-west-1';
setLogSink(() => undefined);
for (const [workers, batch] of [[1000, 50], [300, 1]] as const) {
  const fleet = SimulatedFleet.standard({ masters: 5, workers });
  const t = Date.now();
  const run = await bootstrapOnFleet(fleet, consoleInput(fleet, { workerBatchSize: batch }));
  console.log(workers, batch, run.error?.name, run.error?.message?.slice(0, 200), 'peak', run.peakPayloadBytes, 'history', run.historyEvents, 'calls', fleet.calls.length, 'wall', Date.now() - t);
}
