import { headers as natsHeaders, type Msg, type Subscription } from '@nats-io/transport-node';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import {
  DomainError,
  isRpcErrorBody,
  NatsHeaders,
  RpcRequestClasses,
  serviceOf,
  type Actor,
  type ErrorDetail,
  type RpcErrorBody,
  type RpcRequest,
  type RpcResponse,
  type RpcSubject,
  type ServiceName,
} from '@hms/contracts';
import type { Logger } from 'pino';
import { isStatementTimeout } from '../database/database-outage';
import { OutageLog } from '../bootstrap/outage-log';
import { injectTraceContext, withConsumerSpan, withProducerSpan } from '../tracing/tracing';
import type { NatsBus } from './nats-bus';

/** What a handler knows about the call besides its message. */
export interface RpcContext {
  actor: Actor;
}

export type RpcHandler<S extends RpcSubject> = (message: RpcRequest<S>, context: RpcContext) => Promise<RpcResponse<S>>;

/**
 * The handlers of one service: exactly one for each of its subjects, checked by the compiler
 * (a missing or extra handler does not type-check).
 */
export type RpcHandlers<N extends ServiceName> = {
  [S in RpcSubject as S extends `${N}.${string}` ? S : never]: RpcHandler<S>;
};

type Reply = { ok: true; result: unknown } | { ok: false; error: RpcErrorBody };

const DATABASE_UNAVAILABLE: RpcErrorBody = { code: 'UNAVAILABLE', message: 'The database is unavailable; try again shortly', retryable: true };
const MESSAGING_UNAVAILABLE: RpcErrorBody = { code: 'UNAVAILABLE', message: 'The message bus is unavailable; try again shortly', retryable: true };

/** Turns class-validator errors into contract error details with dotted paths. */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const path = parent ? (/^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`) : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ path, message }));
    return [...own, ...validationDetails(error.children ?? [], path)];
  });
}

/**
 * Validates a plain message against its contract class; throws VALIDATION_FAILED with every
 * problem. Synchronous: the contracts have no async constraints, and every RPC (a complete per
 * task) pays for class-validator's promise per constraint otherwise.
 */
export function validateMessage<T extends object>(messageClass: new () => T, payload: unknown): T {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new DomainError('VALIDATION_FAILED', 'The message must be a JSON object', [{ path: '', message: 'expected an object' }]);
  }
  const instance = plainToInstance(messageClass, payload);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
  if (errors.length > 0) {
    throw new DomainError('VALIDATION_FAILED', 'The request is not valid', validationDetails(errors));
  }
  return instance;
}

/**
 * Serves a service's request/reply subjects with its queue group, so replicas share the load.
 * Each message is validated against its contract class; domain errors travel as
 * `{code, message, retryable, details}`, anything else as INTERNAL with the cause only logged.
 */
export class RpcServer {
  private readonly subscriptions: Subscription[] = [];
  private inFlight = 0;
  private readonly outage: OutageLog;

  constructor(
    private readonly bus: NatsBus,
    private readonly service: ServiceName,
    private readonly logger: Logger,
  ) {
    this.outage = new OutageLog(logger, 'rpc');
  }

  /** Resolves once the server has the subscriptions: a caller told "ready" must find a responder. */
  async serve<N extends ServiceName>(handlers: RpcHandlers<N>): Promise<void> {
    for (const [subject, handler] of Object.entries(handlers) as Array<[RpcSubject, RpcHandler<RpcSubject>]>) {
      const subscription = this.bus.connection.subscribe(this.bus.subject(subject), {
        queue: this.service,
        callback: (error, msg) => {
          if (error) {
            this.logger.error({ err: error, subject }, 'subscription error');
            return;
          }
          void this.handle(subject, handler, msg);
        },
      });
      this.subscriptions.push(subscription);
    }
    await this.bus.connection.flush();
  }

  private async handle(subject: RpcSubject, handler: RpcHandler<RpcSubject>, msg: Msg): Promise<void> {
    this.inFlight += 1;
    const reply = await withConsumerSpan(`rpc ${subject}`, msg.headers, async (): Promise<Reply> => {
      try {
        const payload = msg.data.length > 0 ? msg.json<unknown>() : {};
        const message = validateMessage(RpcRequestClasses[subject], payload);
        const actorHeader = msg.headers?.get(NatsHeaders.actor);
        const actor: Actor = actorHeader ? (JSON.parse(actorHeader) as Actor) : { id: 'anonymous', roles: [] };
        const result = await handler(message as RpcRequest<RpcSubject>, { actor });
        this.outage.succeeded();
        return { ok: true, result };
      } catch (error) {
        if (error instanceof DomainError) return { ok: false, error: error.toRpcBody() };
        // Postgres (or NATS) down, restarting, out of connections or too slow: the call may work later.
        const away = this.outage.failed(error);
        if (away) return { ok: false, error: away === 'Postgres' ? DATABASE_UNAVAILABLE : MESSAGING_UNAVAILABLE };
        if (isStatementTimeout(error)) {
          this.logger.warn({ subject }, 'a statement ran past DATABASE_STATEMENT_TIMEOUT_MS; answered UNAVAILABLE');
          return { ok: false, error: DATABASE_UNAVAILABLE };
        }
        if (error instanceof SyntaxError) {
          return { ok: false, error: { code: 'VALIDATION_FAILED', message: 'The message is not valid JSON', retryable: false } };
        }
        this.logger.error({ err: error, subject }, 'rpc handler failed');
        return { ok: false, error: { code: 'INTERNAL', message: 'Internal error', retryable: true } };
      }
    }).finally(() => {
      this.inFlight -= 1;
    });
    if (msg.reply) msg.respond(JSON.stringify(reply));
  }

  /** Stops taking new messages and waits (bounded) for the ones being handled. */
  async stop(timeoutMs = 5000): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Default time a caller waits for a service to answer. */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;

/**
 * Calls a service over NATS request/reply, carrying the actor and the trace context.
 * No answer in time, or nobody listening, becomes UNAVAILABLE (retryable).
 */
export class RpcClient {
  constructor(private readonly bus: NatsBus) {}

  async call<S extends RpcSubject>(
    subject: S,
    message: RpcRequest<S>,
    options: { actor: Actor; timeoutMs?: number },
  ): Promise<RpcResponse<S>> {
    return withProducerSpan(`rpc ${subject}`, async () => {
      const headers = natsHeaders();
      headers.set(NatsHeaders.actor, JSON.stringify(options.actor));
      injectTraceContext(headers);
      let response: Msg;
      try {
        response = await this.bus.connection.request(this.bus.subject(subject), JSON.stringify(message ?? {}), {
          timeout: options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
          headers,
        });
      } catch (error) {
        const reason = /no responders/i.test((error as Error).message) ? 'no replica is running' : 'timed out';
        throw new DomainError('UNAVAILABLE', `The ${serviceOf(subject)} service did not answer (${reason})`);
      }
      const reply = response.json<Reply>();
      if (reply.ok) return reply.result as RpcResponse<S>;
      if (isRpcErrorBody(reply.error)) throw DomainError.fromRpcBody(reply.error);
      throw new DomainError('INTERNAL', 'The service answered with an unreadable error');
    });
  }
}
