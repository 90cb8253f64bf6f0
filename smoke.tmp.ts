import { setLogSink } from '/work/main/functions/core/log.js';
import { installFleet } from '/work/main/sim/aws.js';
import { SimulatedFleet } from '/work/main/sim/fleet.js';
import { runStateMachine } from '/work/main/sim/state-machine.js';
process.env.KUBEHA_DOCUMENT_PREFIX = 'kubeha-dev-';
process.env.AWS_REGION = 'eu-west-1';
const logs: string[] = [];
setLogSink((l) => logs.push(l));
const fleet = SimulatedFleet.standard();
const uninstall = installFleet(fleet);
const t0 = Date.now();
const run = await runStateMachine('bootstrap-cluster', {
  clusterName: 'demo', kubernetesVersion: '1.36.4', elasticIpAllocationId: fleet.elasticIpAllocationId,
  podCidr: '192.168.0.0/16', serviceCidr: '10.96.0.0/12',
});
console.log('wall ms', Date.now() - t0, 'tasks', run.tasks.length, 'events', run.events.length);
console.log(JSON.stringify(run.tasks.slice(0,2),null,1).slice(0,1500));
console.log(JSON.stringify(run.error ?? run.output, null, 1).slice(0, 3000));
console.log(fleet.clusters.get('demo')?.etcdMembers.length, fleet.clusters.get('demo')?.nodes.length);
console.log(logs.slice(-3).join('\n'));
uninstall();
