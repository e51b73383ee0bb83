import { clientFromEnvironment } from '@hms/client';

/** Where to reach the gateway: `HMS_URL`/`HMS_TOKEN`, or these headers (an `Authorization: Bearer …` replaces `HMS_TOKEN`). */
export interface SeedCallOptions {
  headers?: Record<string, string>;
}

/** `ActClient.startJob`: a job is a request of the plan named by `jobType`. */
export interface StartJobInput extends SeedCallOptions {
  /** The plan id, e.g. `farm:grant:v1`. */
  jobType: string;
  payload?: Record<string, unknown>;
  /** The job's SLA; the plan's when absent. */
  slaMinutes?: number;
  /** The caller's own id for the job (searchable). */
  reference?: string;
  priority?: number;
  /** Same key and input: the same job again instead of a second one. */
  idempotencyKey?: string;
}

/** The job ticket: `jobId` is the request id (`GET /v1/requests/:jobId`). */
export interface JobTicket {
  jobId: string;
  jobType: string;
  version: number;
  status: string;
  createdAt: string;
  /** When the job's SLA runs out (null without one). */
  slaDueAt: string | null;
}

/** `ActClient.setSLA`: the SLA of a queue (pool) for the tasks queued from now on. */
export interface SetSlaInput extends SeedCallOptions {
  queue: string;
  minutes: number;
}

/**
 * The orchestration calls of the guides (chapter "Management Layer": launchJob.js, updateSLA.js),
 * as static methods over `@hms/client`. A job is a request; its queue is its first step's pool.
 */
export class ActClient {
  /** Starts a job of the plan `jobType` (`POST /v1/requests`). */
  static async startJob(input: StartJobInput): Promise<JobTicket> {
    const { client } = clientFromEnvironment({ headers: input.headers });
    const request = await client.requests.create(
      {
        plan: input.jobType,
        ...(input.payload === undefined ? {} : { payload: input.payload }),
        ...(input.slaMinutes === undefined ? {} : { slaMinutes: input.slaMinutes }),
        ...(input.reference === undefined ? {} : { reference: input.reference }),
        ...(input.priority === undefined ? {} : { priority: input.priority }),
      },
      input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey },
    );
    return { jobId: request.id, jobType: request.plan, version: request.version, status: request.status, createdAt: request.createdAt, slaDueAt: request.slaDueAt };
  }

  /** Tasks queued in `queue` from now on get this SLA (`PUT /v1/pools/:queue/sla`). */
  static async setSLA(input: SetSlaInput): Promise<{ queue: string; minutes: number }> {
    const { client } = clientFromEnvironment({ headers: input.headers });
    await client.pools.setSla(input.queue, input.minutes);
    return { queue: input.queue, minutes: input.minutes };
  }
}
