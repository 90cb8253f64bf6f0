// Every Lambda handler by the function name serverless.yml and the ASL files use.
// The local state-machine runner binds Task states through this map.
import { handler as acquireLock } from './acquire-lock.js';
import { handler as assessCertificates } from './assess-certificates.js';
import { handler as assessDrill } from './assess-drill.js';
import { handler as assessQuorum } from './assess-quorum.js';
import { handler as awaitCommand } from './await-command.js';
import { handler as awaitHealing } from './await-healing.js';
import { handler as awaitInstance } from './await-instance.js';
import { handler as changeEncryptionKeys } from './change-encryption-keys.js';
import { handler as discoverCluster } from './discover-cluster.js';
import { handler as ensureEncryptionKey } from './ensure-encryption-key.js';
import { handler as inspectMasters } from './inspect-masters.js';
import { handler as ensureElasticIp } from './ensure-elastic-ip.js';
import { handler as evaluateNodeHealth } from './evaluate-node-health.js';
import { handler as injectFailure } from './inject-failure.js';
import { handler as retireInstance } from './retire-instance.js';
import { handler as inspectCluster } from './inspect-cluster.js';
import { handler as launchReplacement } from './launch-replacement.js';
import { handler as mintJoinMaterial } from './mint-join-material.js';
import { handler as notify } from './notify.js';
import { handler as onInstanceStateChange } from './on-instance-state-change.js';
import { handler as placeElasticIp } from './place-elastic-ip.js';
import { handler as pointNodeProxies } from './point-node-proxies.js';
import { handler as prepareDrill } from './prepare-drill.js';
import { handler as preflightCluster } from './preflight-cluster.js';
import { handler as reconcile } from './reconcile.js';
import { handler as recordCluster } from './record-cluster.js';
import { handler as refreshAddresses } from './refresh-addresses.js';
import { handler as releaseLock } from './release-lock.js';
import { handler as reportDrill } from './report-drill.js';
import { handler as sendCommand } from './send-command.js';
import { handler as startInstance } from './start-instance.js';
import { handler as validateInput } from './validate-input.js';
import { handler as prepareImageBuild } from './prepare-image-build.js';
import { handler as launchImageBuilder } from './launch-image-builder.js';
import { handler as ensureNodeImage } from './ensure-node-image.js';
import { handler as recordNodeImage } from './record-node-image.js';
import { handler as terminateImageBuilder } from './terminate-image-builder.js';
import { handler as discardNodeImage } from './discard-node-image.js';
import { handler as pruneNodeImages } from './prune-node-images.js';

export const handlers = {
  ensureEncryptionKey,
  changeEncryptionKeys,
  inspectMasters,
  prepareImageBuild,
  launchImageBuilder,
  ensureNodeImage,
  recordNodeImage,
  terminateImageBuilder,
  discardNodeImage,
  pruneNodeImages,
  validateInput,
  discoverCluster,
  preflightCluster,
  mintJoinMaterial,
  sendCommand,
  awaitCommand,
  placeElasticIp,
  recordCluster,
  onInstanceStateChange,
  acquireLock,
  releaseLock,
  inspectCluster,
  assessQuorum,
  assessCertificates,
  evaluateNodeHealth,
  startInstance,
  awaitInstance,
  launchReplacement,
  refreshAddresses,
  pointNodeProxies,
  ensureElasticIp,
  notify,
  reconcile,
  prepareDrill,
  assessDrill,
  injectFailure,
  retireInstance,
  awaitHealing,
  reportDrill,
} as const;
