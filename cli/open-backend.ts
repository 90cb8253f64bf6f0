// Chooses the backend: the real account, or the simulated one on this machine. Loaded lazily, so a
// command against AWS never loads the simulator and `--help` loads neither.
import type { Backend, BackendOptions } from './backend.js';

export async function openBackend(options: BackendOptions): Promise<Backend> {
  if (options.simulate) return (await import('./simulated-backend.js')).openSimulatedBackend(options);
  return (await import('./aws-backend.js')).createAwsBackend(options);
}
