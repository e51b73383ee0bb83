/** Request lifecycle (API.md): `running` until one of the terminal states. */
export const RequestStatuses = ['running', 'completed', 'rejected', 'failed', 'cancelled'] as const;
export type RequestStatus = (typeof RequestStatuses)[number];

/** Step lifecycle inside a request. */
export const StepStatuses = ['pending', 'ready', 'done', 'skipped', 'failed', 'cancelled'] as const;
export type StepStatus = (typeof StepStatuses)[number];

/** Task lifecycle (API.md): a failed attempt goes back to `queued` until attempts are spent. */
export const TaskStatuses = ['queued', 'leased', 'completed', 'dead', 'cancelled'] as const;
export type TaskStatus = (typeof TaskStatuses)[number];

/** Pool kinds: humans lease one task at a time, bots in batches. */
export const PoolKinds = ['human', 'bot'] as const;
export type PoolKind = (typeof PoolKinds)[number];
