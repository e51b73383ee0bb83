import { clientFromEnvironment, type QueuedTaskView, type TaskStatus } from '@hms/client';

/** One job waiting in a queue, as `OmsClient.peek` shows it. */
export interface QueuedJob {
  /** The job id (`ActClient.startJob`'s `jobId`: the request id). */
  id: string;
  /** `waiting` while queued; the task status otherwise. */
  status: 'waiting' | Exclude<TaskStatus, 'queued'>;
  /** The earlier of the job's SLA and its task's (ISO-8601), null when neither has one. */
  slaExpires: string | null;
}

export interface QueuePeek {
  queue: string;
  /** All queued tasks of the queue, not only those shown. */
  depth: number;
  jobs: QueuedJob[];
}

export interface PeekOptions {
  /** At most this many jobs (1..500, default 20). */
  limit?: number;
  headers?: Record<string, string>;
}

function earlier(a: string | null, b: string | null): string | null {
  if (a === null || b === null) return a ?? b;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

/** A queued task as a job line; `jobSla` is its request's SLA due time. */
export function toQueuedJob(task: Pick<QueuedTaskView, 'requestId' | 'status' | 'slaDueAt'>, jobSla: string | null): QueuedJob {
  return { id: task.requestId, status: task.status === 'queued' ? 'waiting' : task.status, slaExpires: earlier(jobSla, task.slaDueAt) };
}

/**
 * The queue calls of the guides (chapter "Management Layer": checkQueue.js), over `@hms/client`.
 * A queue is a pool; the jobs in it are the requests whose tasks wait there.
 */
export class OmsClient {
  /** The head of the queue, best first, without taking anything (`GET /v1/pools/:queue/queue`). */
  static async peek(queue: string, options: PeekOptions = {}): Promise<QueuePeek> {
    const { client } = clientFromEnvironment({ headers: options.headers });
    const head = await client.pools.peek(queue, options.limit ?? 20);
    // A job's SLA is its request's: read each request shown once (a request may have several tasks here).
    const requestIds = [...new Set(head.tasks.map((task) => task.requestId))];
    const slas = new Map(await Promise.all(requestIds.map(async (id) => [id, (await client.requests.get(id)).slaDueAt] as const)));
    return { queue: head.pool, depth: head.depth, jobs: head.tasks.map((task) => toQueuedJob(task, slas.get(task.requestId) ?? null)) };
  }
}
