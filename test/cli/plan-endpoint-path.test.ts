// `kubeha plan` on an account whose load balancers admit the API only from the nodes' security groups: the
// nodes' kubeadm join reaches the Elastic IP from the NAT gateway's public address, which no group rule
// matches, so plan shows the blocking finding and the rule that fixes it, and changes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../cli/backend.js';
import { plan } from '../../cli/commands/plan.js';
import type { Output } from '../../cli/format.js';
import { createSimulatedBackend } from '../../cli/simulated-backend.js';
import { EXAMPLE } from './support.js';

let backend: Backend | undefined;
afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

function captured(json = false): Output & { text: () => string } {
  let text = '';
  return { isTTY: false, json, columns: 200, write: (chunk) => void (text += chunk), error: (chunk) => void (text += chunk), text: () => text };
}

describe('kubeha plan and the path to the Elastic IP', () => {
  it("blocks, exit 3, when sg-lb admits the API port only from the node groups, naming the NAT's address and the rule to add", async () => {
    // Prepare
    backend = createSimulatedBackend({ clusterName: 'prod-eu', elasticIpAllocationId: 'eipalloc-0abc12345def67890' });
    const fleet = backend.simulation!.fleet;
    const nat = [...fleet.natGateways.values()][0]!;
    fleet.securityGroups.set('sg-lb0000000000001', [
      { protocol: 'tcp', fromPort: 6443, toPort: 6443, sourceGroupIds: ['sg-master0000000000001', 'sg-worker0000000000001'], cidrs: [] },
      { protocol: '112', sourceGroupIds: ['sg-lb0000000000001'], cidrs: [] },
    ]);
    const out = captured();
    const json = captured(true);

    // Act
    const code = await plan({ clusterName: 'prod-eu', inputPath: EXAMPLE }, backend, out);
    await plan({ clusterName: 'prod-eu', inputPath: EXAMPLE }, backend, json);

    // Assess: the text wraps long findings, so it is read with its whitespace collapsed.
    const text = out.text().replace(/\s+/g, ' ');
    expect(code).toBe(3);
    expect(text).toContain(`BLOCKING securityGroups: `);
    expect(text).toContain(`reach the Elastic IP from ${nat.publicIp} (NAT gateway ${nat.natGatewayId}), and sg-lb0000000000001, the load balancers' group, does not accept tcp 6443 from it`);
    expect(text).toContain(`fix: add an inbound rule to sg-lb0000000000001 allowing tcp 6443 from ${nat.publicIp}/32`);
    expect(text).not.toContain('Bootstrap would:');
    const findings = (JSON.parse(json.text()) as { findings: { field: string; fix: string; blocking: boolean }[] }).findings;
    expect(findings.filter((finding) => finding.blocking)).toEqual([expect.objectContaining({ field: 'securityGroups', fix: `add an inbound rule to sg-lb0000000000001 allowing tcp 6443 from ${nat.publicIp}/32` })]);
    expect(fleet.invocations).toEqual([]);
  });

  it('blocks a cluster whose subnets have no route out, naming the nodes and the route to add', async () => {
    backend = createSimulatedBackend({ clusterName: 'prod-eu', elasticIpAllocationId: 'eipalloc-0abc12345def67890' });
    const fleet = backend.simulation!.fleet;
    const main = fleet.mainRouteTable([...fleet.vpcs.keys()][0]!);
    fleet.setDefaultRoute(main.routeTableId, undefined);
    const out = captured(true);

    const code = await plan({ clusterName: 'prod-eu', inputPath: EXAMPLE }, backend, out);

    expect(code).toBe(3);
    const findings = (JSON.parse(out.text()) as { findings: { field: string; reason: string; fix: string; blocking: boolean }[] }).findings;
    expect(findings.filter((finding) => finding.blocking)).toEqual([
      expect.objectContaining({
        field: 'instances',
        reason: expect.stringContaining(`${main.routeTableId} (the VPC's main route table, which every subnet without a table of its own uses) has no route to 203.0.113.10`),
        fix: expect.stringContaining('aws ec2 create-route --route-table-id rtb-… --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-…'),
      }),
    ]);
  });
});
