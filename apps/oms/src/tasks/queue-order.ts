/**
 * The order a pool serves its queue in: priority, then deadline pressure (`pick_by`: the SLA
 * deadline, or creation plus OMS_UNTIMED_TASK_DEADLINE_MINUTES), then age. Within a priority the
 * task nearest its deadline goes first, so one about to breach overtakes fresh ones and none
 * starves; in a pool whose tasks share one SLA this is plain first-in, first-out.
 *
 * The lease index `tasks_lease_idx` is (pool, priority DESC, pick_by, available_at, id): any
 * query of one pool's queued tasks ordered by {@link QUEUE_ORDER_SQL} walks it and stops at LIMIT.
 */
export const QUEUE_ORDER_SQL = 'priority DESC, pick_by, available_at, id';

export interface QueueOrderKey {
  id: string;
  priority: number;
  pick_by: Date;
  available_at: Date;
}

/** {@link QUEUE_ORDER_SQL} in JavaScript, for rows UPDATE … RETURNING handed back unordered. */
export function compareQueueOrder(a: QueueOrderKey, b: QueueOrderKey): number {
  return (
    b.priority - a.priority ||
    a.pick_by.getTime() - b.pick_by.getTime() ||
    a.available_at.getTime() - b.available_at.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
