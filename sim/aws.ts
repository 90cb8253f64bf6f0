// Wires the simulated services in below the SDK clients, so kubeha's real adapters run unchanged.
// One file per service, each beside the adapter it stands in for: ec2.ts, ssm.ts, dynamodb.ts, s3.ts,
// step-functions.ts, sns-and-secrets.ts; the world they share (instances, clusters, time) is fleet.ts.
import { swapPorts } from '../functions/adapters/index.js';
import { installDynamoDb } from './dynamodb.js';
import { installEc2 } from './ec2.js';
import { charge } from './handler-time.js';
import { LOCAL_STAGE, type SimulatedFleet } from './fleet.js';
import { installS3 } from './s3.js';
import { installSecretsManager, installSns } from './sns-and-secrets.js';
import { installSsm } from './ssm.js';
import { installStepFunctions } from './step-functions.js';

/** Environment the adapters read where the stack would set it. */
export const SIMULATED_ENVIRONMENT = {
  KUBEHA_STAGE: LOCAL_STAGE,
  KUBEHA_STATE_TABLE: 'kubeha-local-state',
  KUBEHA_OUTPUT_BUCKET: 'kubeha-local-command-output',
} as const;

/** Routes every SDK call kubeha makes to the fleet and swaps in the fleet's clock. Returns an uninstaller. */
export function installFleet(fleet: SimulatedFleet): () => void {
  const saved = Object.fromEntries(Object.keys(SIMULATED_ENVIRONMENT).map((key) => [key, process.env[key]]));
  Object.assign(process.env, SIMULATED_ENVIRONMENT);
  const mocks = [installEc2(fleet), installSsm(fleet), installDynamoDb(fleet), installS3(fleet), installStepFunctions(fleet), installSns(fleet), installSecretsManager(fleet)];
  const restorePorts = swapPorts({
    clock: {
      now: () => fleet.now(),
      sleep: async (milliseconds) => {
        charge(milliseconds);
        fleet.advance(milliseconds / 1000);
      },
    },
  });
  return () => {
    restorePorts();
    for (const mock of mocks) mock.restore();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
