// Discrete-event time for concurrent executions. Every Wait of every running state machine registers
// when it wants to wake; once everything that can run at the current modelled instant has run (no
// AWS call and no new sleeper for a few event-loop turns), the clock jumps to the earliest wake-up.
// So two executions waiting 30 s side by side take 30 modelled seconds, not 60.
import type { SimulatedFleet } from './fleet.js';

const QUIET_TURNS = 3;

export class ModelledTime {
  private sleepers: { wakeAt: number; resolve: () => void }[] = [];
  private running = false;

  constructor(private readonly fleet: SimulatedFleet) {}

  sleep(seconds: number): Promise<void> {
    if (seconds <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.sleepers.push({ wakeAt: this.fleet.now() + Math.round(seconds * 1000), resolve });
      if (!this.running) {
        this.running = true;
        void this.run();
      }
    });
  }

  private async run(): Promise<void> {
    while (this.sleepers.length > 0) {
      await this.untilQuiet();
      this.sleepers.sort((a, b) => a.wakeAt - b.wakeAt);
      const next = this.sleepers[0];
      if (!next) break;
      if (next.wakeAt > this.fleet.now()) this.fleet.advance((next.wakeAt - this.fleet.now()) / 1000);
      const now = this.fleet.now();
      const due = this.sleepers.filter((sleeper) => sleeper.wakeAt <= now);
      this.sleepers = this.sleepers.filter((sleeper) => sleeper.wakeAt > now);
      for (const sleeper of due) sleeper.resolve();
    }
    this.running = false;
  }

  /** Lets every chain that can make progress at the current instant do so before time moves on. */
  private async untilQuiet(): Promise<void> {
    let fingerprint = -1;
    let quiet = 0;
    while (quiet < QUIET_TURNS) {
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 0));
      const current = this.fleet.calls.length * 1000 + this.sleepers.length;
      quiet = current === fingerprint ? quiet + 1 : 0;
      fingerprint = current;
    }
  }
}
