// A Secrets encryption key rotation on 3 and 5 masters: three key moves, a restart of every API server
// after each, one rewrite. Modelled time, the peak state payload against 256 KB, history events and calls.
import { setLogSink } from '../functions/core/log.js';
import { consoleInput } from '../sim/bootstrap.js';
import { LocalControlPlane } from '../sim/control-plane.js';
import { SimulatedFleet } from '../sim/fleet.js';
import { type BenchTable, markdownTable } from './table.js';

setLogSink(() => undefined);

export async function run(): Promise<BenchTable> {
  const rows: { masters: number; modelledSeconds: number; peakPayloadBytes: number; historyEvents: number; calls: number }[] = [];
  for (const masters of [3, 5]) {
    const fleet = SimulatedFleet.standard({ masters });
    const plane = new LocalControlPlane(fleet).start();
    try {
      await plane.execute('bootstrap-cluster', 'bench-bootstrap', consoleInput(fleet));
      const calls = fleet.calls.length;
      const started = fleet.now();
      const rotation = await plane.execute('rotate-encryption-key', 'bench-rotate', { clusterName: 'demo', rotationId: 'bench' });
      if (rotation.error) throw new Error(`rotation failed: ${rotation.error.cause}`);
      rows.push({ masters, modelledSeconds: (fleet.now() - started) / 1000, peakPayloadBytes: rotation.peakPayloadBytes, historyEvents: rotation.historyEvents, calls: fleet.calls.length - calls });
    } finally {
      plane.stop();
    }
  }
  const markdown = markdownTable(
    ['masters', 'modelled time', 'peak state payload', 'history events', 'AWS calls'],
    rows.map((row) => [row.masters, `${row.modelledSeconds.toFixed(0)} s`, `${(row.peakPayloadBytes / 1024).toFixed(1)} KB`, row.historyEvents, row.calls]),
  );
  return { title: 'Rotating the Secrets encryption key', markdown, json: rows, missedTargets: [] };
}
