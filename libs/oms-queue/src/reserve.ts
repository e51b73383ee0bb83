import { clientFromEnvironment, Pool, tokenSubject, type WorkItem } from '@hms/client';

export interface ReserveOptions {
  headers?: Record<string, string>;
  /** The worker's name; the token's subject when absent (the gateway only lets a worker lease as itself). */
  worker?: string;
  /** The worker's skills: only jobs whose tags are all among these are offered. */
  tags?: string[];
  /** Long-poll up to this long (0..30 s, default 5) before answering null. */
  waitSeconds?: number;
}

/** What `job.report` takes: the job is done (with an optional output) or failed (with the error). */
export type JobOutcome = 'done' | 'fail';

/** A reserved job: its task's lease is held (and heartbeated) until `report`. */
export interface ReservedJob {
  /** The task id. */
  id: string;
  /** The job id (the request id `ActClient.startJob` answered). */
  jobId: string;
  title: string;
  payload: Record<string, unknown>;
  /** 1 on the first attempt. */
  attempt: number;
  /** `report('done', output?)` completes the task; `report('fail', err)` fails it, retried by the step's policy. */
  report(outcome: JobOutcome, detail?: unknown): Promise<void>;
}

/** The heartbeat period: a third of what is left of the lease, between 1 s and 5 min. */
function heartbeatDelayMs(leaseExpiresAt: string): number {
  const left = Date.parse(leaseExpiresAt) - Date.now();
  return Math.min(300_000, Math.max(1_000, Math.floor(left / 3)));
}

function asJob(item: WorkItem): ReservedJob {
  let timer: NodeJS.Timeout | undefined;
  let reported = false;
  const beat = () => {
    timer = setTimeout(() => {
      item.heartbeat().then(
        () => !reported && beat(),
        // A lost lease ends the heartbeats; the report will say LEASE_LOST.
        () => undefined,
      );
    }, heartbeatDelayMs(item.leaseExpiresAt));
    // The heartbeat alone never keeps a finished script running.
    timer.unref();
  };
  beat();
  return {
    id: item.id,
    jobId: item.requestId,
    title: item.title,
    payload: item.payload,
    attempt: item.attempt,
    async report(outcome, detail) {
      if (outcome !== 'done' && outcome !== 'fail') throw new TypeError(`report takes 'done' or 'fail', not ${JSON.stringify(outcome)}`);
      reported = true;
      clearTimeout(timer);
      if (outcome === 'done') {
        const output = typeof detail === 'object' && detail !== null && !Array.isArray(detail) ? (detail as Record<string, unknown>) : {};
        await item.complete(output);
      } else {
        await item.fail(detail ?? new Error('the job failed'));
      }
    },
  };
}

/**
 * Locks one job of `queue` for this worker (the guides' worker.js), or answers null when none came
 * within `waitSeconds`. The worker is the token's subject unless `worker` says otherwise.
 */
export async function reserve(queue: string, options: ReserveOptions = {}): Promise<ReservedJob | null> {
  const { client, token } = clientFromEnvironment({ headers: options.headers });
  const worker = options.worker ?? tokenSubject(token);
  if (!worker) throw new TypeError('reserve: no worker name (set HMS_TOKEN to a token with a subject, or pass {worker})');
  const item = await new Pool(queue, client).login(worker, { tags: options.tags }).nextTask({ waitSeconds: options.waitSeconds ?? 5 });
  return item ? asJob(item) : null;
}
