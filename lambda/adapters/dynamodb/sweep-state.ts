import { UpdateCommand, type UpdateCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { SweepCheckpoint, SweepState } from '../../core/ports';
import { Attr } from '../../shared/table';
import { isConditionFailure, isRefused, type TableClient } from './table-client';

/** The one item of the sweep's state: no sweep_shard and no tenant, so neither index holds it. */
export const SWEEP_STATE_KEY = 'SWEEP#lease';

/** Its attributes. Not `expires_at`: that is the table's TTL attribute, and TTL would delete the checkpoint with it. */
const SweepAttr = {
  holder: 'holder',
  heldUntil: 'held_until',
  cutoff: 'pass_cutoff',
  position: 'pass_position',
  passStartedAt: 'pass_started_at',
  runs: 'pass_runs',
} as const;

const CHECKPOINT_NAMES = {
  '#cutoff': SweepAttr.cutoff,
  '#position': SweepAttr.position,
  '#started': SweepAttr.passStartedAt,
  '#runs': SweepAttr.runs,
};

/** The sweep's lease and checkpoint on one item of the task table: each write is conditional on the lease. */
export class DynamoDbSweepState implements SweepState {
  constructor(private readonly table: TableClient) {}

  async acquire(holder: string, now: number, until: number): Promise<{ checkpoint?: SweepCheckpoint } | undefined> {
    const out = await this.table.attempt(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: { [Attr.pk]: SWEEP_STATE_KEY },
        UpdateExpression: 'SET #holder = :holder, #held_until = :until',
        // Free, or held by a run that is past its lease (killed at its timeout before it could give it up).
        ConditionExpression: 'attribute_not_exists(#holder) OR #held_until < :now',
        ExpressionAttributeNames: { '#holder': SweepAttr.holder, '#held_until': SweepAttr.heldUntil },
        ExpressionAttributeValues: { ':holder': holder, ':until': until, ':now': now },
        ReturnValues: 'ALL_NEW',
      }),
      isConditionFailure,
    );
    if (isRefused(out)) return undefined;
    return { checkpoint: checkpointOf((out.output as UpdateCommandOutput).Attributes) };
  }

  async renew(holder: string, until: number): Promise<boolean> {
    const out = await this.table.attempt(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: { [Attr.pk]: SWEEP_STATE_KEY },
        UpdateExpression: 'SET #held_until = :until',
        ConditionExpression: '#holder = :holder',
        ExpressionAttributeNames: { '#holder': SweepAttr.holder, '#held_until': SweepAttr.heldUntil },
        ExpressionAttributeValues: { ':holder': holder, ':until': until },
      }),
      isConditionFailure,
    );
    return !isRefused(out);
  }

  async release(holder: string, checkpoint: SweepCheckpoint | undefined): Promise<boolean> {
    // The lease goes; the checkpoint is set, or removed when the pass is complete (or has no position yet).
    const removed = ['#holder', '#held_until'];
    const set: string[] = [];
    const values: Record<string, unknown> = { ':holder': holder };
    if (checkpoint) {
      set.push('#cutoff = :cutoff', '#started = :started', '#runs = :runs');
      Object.assign(values, {
        ':cutoff': checkpoint.cutoff,
        ':started': checkpoint.passStartedAt,
        ':runs': checkpoint.runs,
      });
      if (checkpoint.position === undefined) removed.push('#position');
      else {
        set.push('#position = :position');
        values[':position'] = checkpoint.position;
      }
    } else removed.push('#cutoff', '#position', '#started', '#runs');
    const update = {
      UpdateExpression: `REMOVE ${removed.join(', ')}${set.length ? ` SET ${set.join(', ')}` : ''}`,
      ExpressionAttributeValues: values,
    };
    const out = await this.table.attempt(
      new UpdateCommand({
        TableName: this.table.tableName,
        Key: { [Attr.pk]: SWEEP_STATE_KEY },
        ...update,
        // Only the holder writes: a run that outlived its lease must not overwrite the checkpoint of the run after it.
        ConditionExpression: '#holder = :holder',
        ExpressionAttributeNames: {
          '#holder': SweepAttr.holder,
          '#held_until': SweepAttr.heldUntil,
          ...CHECKPOINT_NAMES,
        },
      }),
      isConditionFailure,
    );
    return !isRefused(out);
  }
}

function checkpointOf(item: Record<string, unknown> | undefined): SweepCheckpoint | undefined {
  const cutoff = item?.[SweepAttr.cutoff];
  if (typeof cutoff !== 'string') return undefined;
  const position = item?.[SweepAttr.position];
  const started = item?.[SweepAttr.passStartedAt];
  const runs = item?.[SweepAttr.runs];
  return {
    cutoff,
    position: typeof position === 'string' ? position : undefined,
    passStartedAt: typeof started === 'string' ? started : cutoff,
    runs: typeof runs === 'number' ? runs : 0,
  };
}
