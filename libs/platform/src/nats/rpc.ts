import { headers as natsHeaders, type Msg, type Subscription } from '@nats-io/transport-node';
import { BaseRpcContext, RpcException } from '@nestjs/microservices';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import {
  DomainError,
  findJsonProblem,
  isRpcErrorBody,
  limits,
  MESSAGE_ENVELOPE_DEPTH,
  NatsHeaders,
  RpcRequestClasses,
  serviceOf,
  SIZE_CONSTRAINTS,
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
import { assertBotPools } from './actor-trust';
import type { NatsBus } from './nats-bus';
import { encodedHeaderBytes, fitsIn, HEADERS_RESERVE_BYTES, payloadTooLarge } from './wire-size';
import { memoizeValidationMetadata } from './validation-metadata';

// Every process that validates messages (services, the gateway) looks constraints up once per class.
memoizeValidationMetadata();

/** What a handler knows about the call besides its message. */
export interface RpcContext {
  actor: Actor;
  /** Size of the request as it arrived (body bytes): a request that fits leaves its parts room to spare. */
  requestBytes: number;
  /** The server's `max_payload` now: the most a reply (or any message) may carry. */
  maxPayload: number;
}

/**
 * The context of one call, as a handler receives it (`@Ctx() call: RpcCall` on a `@MessagePattern`
 * method); the NATS message itself is its Nest argument.
 */
export class RpcCall extends BaseRpcContext<[Msg]> implements RpcContext {
  constructor(
    readonly subject: RpcSubject,
    readonly actor: Actor,
    readonly requestBytes: number,
    readonly maxPayload: number,
    msg: Msg,
  ) {
    super([msg]);
  }
}

export type RpcHandler<S extends RpcSubject> = (message: RpcRequest<S>, context: RpcContext) => Promise<RpcResponse<S>>;

/**
 * A plain handler map for `RpcServer.serve` (tests, tools): exactly one for each subject of a
 * service, checked by the compiler. The services route `@MessagePattern` methods instead
 * (`RpcRoutes`, rpc-transport.ts).
 */
export type RpcHandlers<N extends ServiceName> = {
  [S in RpcSubject as S extends `${N}.${string}` ? S : never]: RpcHandler<S>;
};

type Reply = { ok: true; result: unknown } | { ok: false; error: RpcErrorBody };

const DATABASE_UNAVAILABLE: RpcErrorBody = { code: 'UNAVAILABLE', message: 'The database is unavailable; try again shortly', retryable: true };
const MESSAGING_UNAVAILABLE: RpcErrorBody = { code: 'UNAVAILABLE', message: 'The message bus is unavailable; try again shortly', retryable: true };

/**
 * What a caller is told when a call fails: domain errors as `{code, message, retryable, details}`,
 * an outage of Postgres or NATS as UNAVAILABLE (logged once per outage), anything else as INTERNAL
 * with the cause only logged. One per server, shared with its Nest exception filter.
 */
export class RpcErrors {
  private readonly outage: OutageLog;

  constructor(private readonly logger: Logger) {
    this.outage = new OutageLog(logger, 'rpc');
  }

  succeeded(): void {
    this.outage.succeeded();
  }

  bodyOf(error: unknown, subject: string): RpcErrorBody {
    if (error instanceof DomainError) return error.toRpcBody();
    // Postgres (or NATS) down, restarting, out of connections or too slow: the call may work later.
    const away = this.outage.failed(error);
    if (away) return away === 'Postgres' ? DATABASE_UNAVAILABLE : MESSAGING_UNAVAILABLE;
    if (isStatementTimeout(error)) {
      this.logger.warn({ subject }, 'a statement ran past DATABASE_STATEMENT_TIMEOUT_MS; answered UNAVAILABLE');
      return DATABASE_UNAVAILABLE;
    }
    if (error instanceof SyntaxError) return { code: 'VALIDATION_FAILED', message: 'The message is not valid JSON', retryable: false };
    this.logger.error({ err: error, subject }, 'rpc handler failed');
    return { code: 'INTERNAL', message: 'Internal error', retryable: true };
  }
}

/** Turns class-validator errors into contract error details with dotted paths. */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const path = parent ? (/^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`) : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ path, message }));
    return [...own, ...validationDetails(error.children ?? [], path)];
  });
}

/** True when a size limit (not the shape) is what failed: answered 413 rather than 400. */
function failsOnSize(errors: ValidationError[]): boolean {
  return errors.some((error) => Object.keys(error.constraints ?? {}).some((name) => SIZE_CONSTRAINTS.has(name)) || failsOnSize(error.children ?? []));
}

/**
 * Throws VALIDATION_FAILED when a message nests deeper than its JSON values may (plus the
 * message's own levels). What recurses over a message (class-transformer, `JSON.stringify`)
 * would overflow the stack on one nested 50,000 deep.
 */
export function assertMessageDepth(payload: unknown): void {
  const tooDeep = findJsonProblem(payload, { maxDepth: limits().jsonDepth + MESSAGE_ENVELOPE_DEPTH, checkText: false });
  if (tooDeep) {
    throw new DomainError('VALIDATION_FAILED', 'The request nests too deeply', [{ path: tooDeep.path.replace(/^([^.[]+).*$/, '$1'), message: `nests deeper than ${limits().jsonDepth} levels` }]);
  }
}

/**
 * Validates a plain message against its contract class; throws VALIDATION_FAILED with every
 * problem (PAYLOAD_TOO_LARGE when a size limit is what failed). Synchronous: the contracts have no
 * async constraints, and every RPC (a complete per task) pays for class-validator's promise per
 * constraint otherwise.
 */
export function validateMessage<T extends object>(messageClass: new () => T, payload: unknown): T {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new DomainError('VALIDATION_FAILED', 'The message must be a JSON object', [{ path: '', message: 'expected an object' }]);
  }
  // Before class-transformer, which recurses: a message nested 50,000 deep must be a 400, not a stack overflow.
  assertMessageDepth(payload);
  const instance = plainToInstance(messageClass, payload);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
  if (errors.length > 0) {
    if (failsOnSize(errors)) throw new DomainError('PAYLOAD_TOO_LARGE', 'The request is over a size limit', validationDetails(errors));
    throw new DomainError('VALIDATION_FAILED', 'The request is not valid', validationDetails(errors));
  }
  return instance;
}

/**
 * Runs one call to its result: the message as parsed from JSON (a plain object, not yet validated),
 * or, for a bot's call, already validated (an instance of its contract class), which a dispatch
 * does not validate again.
 */
export type RpcDispatch = (subject: RpcSubject, payload: unknown, call: RpcCall) => Promise<unknown>;

/**
 * Serves a service's request/reply subjects with its queue group, so replicas share the load:
 * the wire under the Nest transport (`NatsRpcTransport`). It establishes the caller (the bus's
 * `ActorTrust`: a signed actor header or the caller's own token), parses each message, reads the
 * trace context from its headers, runs the call, and answers `{ok, result|error}` within
 * `max_payload`. `serve` takes a plain handler map (validated here); the services' handlers are
 * `@MessagePattern` methods, dispatched by the transport through Nest's pipes and filters.
 */
export class RpcServer {
  private subscriptions: Subscription[] = [];
  private inFlight = 0;

  constructor(
    private readonly bus: NatsBus,
    private readonly service: ServiceName,
    private readonly logger: Logger,
    private readonly errors = new RpcErrors(logger),
  ) {}

  /** Serves a handler map, each message validated against its contract class first. */
  async serve<N extends ServiceName>(handlers: RpcHandlers<N>): Promise<void> {
    const bySubject = handlers as unknown as Record<RpcSubject, RpcHandler<RpcSubject>>;
    await this.subscribe(Object.keys(bySubject) as RpcSubject[], (subject, payload, call) => {
      const messageClass = RpcRequestClasses[subject];
      const message = payload instanceof messageClass ? payload : validateMessage(messageClass, payload);
      return bySubject[subject](message as RpcRequest<RpcSubject>, call);
    });
  }

  /** Resolves once the server has the subscriptions: a caller told "ready" must find a responder. */
  async subscribe(subjects: readonly RpcSubject[], dispatch: RpcDispatch): Promise<void> {
    for (const subject of subjects) {
      const subscription = this.bus.connection.subscribe(this.bus.subject(subject), {
        queue: this.service,
        callback: (error, msg) => {
          if (error) {
            this.logger.error({ err: error, subject }, 'subscription error');
            return;
          }
          // Detached from the callback: a rejection here would be unhandled, and end the process.
          this.handle(subject, dispatch, msg).catch((failure: unknown) => this.logger.error({ err: failure, subject }, 'rpc message could not be handled'));
        },
      });
      this.subscriptions.push(subscription);
    }
    await this.bus.connection.flush();
  }

  private async handle(subject: RpcSubject, dispatch: RpcDispatch, msg: Msg): Promise<void> {
    this.inFlight += 1;
    const reply = await withConsumerSpan(`rpc ${subject}`, msg.headers, async (): Promise<Reply> => {
      try {
        // Who is calling comes first: a caller that cannot say is told so, not how to fix its message.
        const { actor, byToken } = await this.bus.trust.callerOf(subject, msg.subject, (name) => msg.headers?.get(name) || undefined);
        let payload: unknown = msg.data.length > 0 ? msg.json<unknown>() : {};
        if (byToken) {
          // The gateway checks a worker's pools before it calls; a bot's call did not pass it. On the
          // validated message (as the handler will see it), so a malformed one is still a 400 first;
          // the instance travels on, and the dispatch does not validate it again.
          const message = validateMessage(RpcRequestClasses[subject], payload);
          assertBotPools(actor, message);
          payload = message;
        }
        const call = new RpcCall(subject, actor, msg.data.length, this.bus.maxPayload, msg);
        const result = await dispatch(subject, payload, call);
        this.errors.succeeded();
        return { ok: true, result };
      } catch (error) {
        // Already mapped by the handler's exception filter.
        if (error instanceof RpcException && isRpcErrorBody(error.getError())) return { ok: false, error: error.getError() as RpcErrorBody };
        return { ok: false, error: this.errors.bodyOf(error, subject) };
      }
    }).finally(() => {
      this.inFlight -= 1;
    });
    if (msg.reply) this.respond(subject, msg, reply);
  }

  /**
   * Sends the reply, or PAYLOAD_TOO_LARGE in its place when it would exceed the server's
   * `max_payload` (the client library would throw, and the caller would wait out its timeout).
   * Handlers whose answers grow with data (a lease, a page) size them to fit beforehand; this is
   * the net under everything else. The reply is measured as serialized, once.
   */
  private respond(subject: RpcSubject, msg: Msg, reply: Reply): void {
    const maxPayload = this.bus.maxPayload;
    let body: string;
    try {
      body = JSON.stringify(reply);
    } catch (error) {
      // A result JSON cannot express (a BigInt, a cycle) is a bug in its handler.
      this.logger.error({ err: error, subject }, 'rpc result cannot be serialized');
      body = JSON.stringify({ ok: false, error: { code: 'INTERNAL', message: 'Internal error', retryable: true } } satisfies Reply);
    }
    if (!fitsIn(body, 0, maxPayload)) {
      const bytes = Buffer.byteLength(body);
      this.logger.warn({ subject, bytes, maxPayload }, 'rpc reply exceeds NATS max_payload; answered PAYLOAD_TOO_LARGE');
      body = JSON.stringify({ ok: false, error: payloadTooLarge('The answer', bytes, maxPayload).toRpcBody() } satisfies Reply);
    }
    try {
      msg.respond(body);
    } catch (error) {
      // The connection closed or is draining: the caller times out and may retry.
      this.logger.warn({ err: error, subject }, 'rpc reply could not be sent');
    }
  }

  /** Stops taking new messages and waits (bounded) for the ones being handled. */
  async stop(timeoutMs = 5000): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
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
      const wireSubject = this.bus.subject(subject);
      const actorHeader = JSON.stringify(options.actor);
      // Appended, not `set`: the headers are new, and `set` first searches them for the name to replace.
      headers.append(NatsHeaders.actor, actorHeader);
      const signature = this.bus.trust.sign(wireSubject, actorHeader);
      if (signature) headers.append(NatsHeaders.actorSignature, signature);
      injectTraceContext(headers);
      const body = JSON.stringify(message ?? {});
      // The client library would throw, and the catch below would call that a 503; it is the
      // caller's message that cannot travel.
      const maxPayload = this.bus.maxPayload;
      if (!fitsIn(body, HEADERS_RESERVE_BYTES, maxPayload)) {
        const headerBytes = encodedHeaderBytes(headers);
        if (!fitsIn(body, headerBytes, maxPayload)) throw payloadTooLarge(`The ${subject} message`, Buffer.byteLength(body), maxPayload - headerBytes);
      }
      let response: Msg;
      try {
        response = await this.bus.connection.request(wireSubject, body, {
          timeout: options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
          headers,
        });
      } catch (error) {
        // This process's NATS user may not publish there (docs/security.md "NATS").
        if (/permission/i.test((error as Error).message)) throw new DomainError('FORBIDDEN', `This NATS user may not call ${subject}`);
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
