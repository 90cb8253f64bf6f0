// Every Lambda handler by the function name serverless.yml and the ASL files use.
// The local state-machine runner binds Task states through this map.
import { handler as awaitCommand } from './await-command.js';
import { handler as discoverCluster } from './discover-cluster.js';
import { handler as mintJoinMaterial } from './mint-join-material.js';
import { handler as placeElasticIp } from './place-elastic-ip.js';
import { handler as preflightCluster } from './preflight-cluster.js';
import { handler as recordCluster } from './record-cluster.js';
import { handler as sendCommand } from './send-command.js';
import { handler as validateInput } from './validate-input.js';

export const handlers = {
  validateInput,
  discoverCluster,
  preflightCluster,
  mintJoinMaterial,
  sendCommand,
  awaitCommand,
  placeElasticIp,
  recordCluster,
} as const;
