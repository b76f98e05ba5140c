/* eslint-disable @typescript-eslint/require-await -- the port's methods are async; in memory, nothing is awaited. */
import type { SweepCheckpoint, SweepState } from '../../../lambda/core/ports';

/** The SweepState port in memory: the DynamoDB adapter's conditions on one item. */
export class InMemorySweepState implements SweepState {
  holder?: string;
  heldUntil = 0;
  checkpoint?: SweepCheckpoint;
  /** Every acquire's answer: true when it took the lease. */
  readonly acquired: boolean[] = [];

  async acquire(holder: string, now: number, until: number): Promise<{ checkpoint?: SweepCheckpoint } | undefined> {
    const free = this.holder === undefined || this.heldUntil < now;
    this.acquired.push(free);
    if (!free) return undefined;
    this.holder = holder;
    this.heldUntil = until;
    return { checkpoint: this.checkpoint };
  }

  async renew(holder: string, until: number): Promise<boolean> {
    if (this.holder !== holder) return false;
    this.heldUntil = until;
    return true;
  }

  async release(holder: string, checkpoint: SweepCheckpoint | undefined): Promise<boolean> {
    if (this.holder !== holder) return false;
    this.holder = undefined;
    this.heldUntil = 0;
    this.checkpoint = checkpoint;
    return true;
  }
}
