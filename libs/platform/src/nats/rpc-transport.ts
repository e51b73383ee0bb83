import { applyDecorators, Catch, Controller, Injectable, UseFilters, UsePipes, type ArgumentMetadata, type ArgumentsHost, type PipeTransform, type RpcExceptionFilter, type Type } from '@nestjs/common';
import { RpcException, Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { RpcRequestClasses, type RpcRequest, type RpcResponse, type RpcSubject, type ServiceName } from '@hms/contracts';
import { isObservable, lastValueFrom, throwError, type Observable } from 'rxjs';
import { RpcErrors, validateMessage, type RpcCall, type RpcServer } from './rpc';

/** A `@MessagePattern` method answering subject `S`: its contract message in, its contract answer out. */
export type RpcMethod<S extends RpcSubject> = (message: RpcRequest<S>, call: RpcCall) => Promise<RpcResponse<S>>;

/** The subjects a service answers. */
export type ServiceSubject<N extends ServiceName> = Extract<RpcSubject, `${N}.${string}`>;

/** Which method of which handler class answers a subject; `M` is the method's type, for the compiler only. */
export interface RpcRoute<M = unknown> {
  readonly handlerClass: Type<unknown>;
  readonly method: string;
  readonly signature?: M;
}

/**
 * The handlers of one service: exactly one method for each of its subjects, with the subject's
 * message and answer types, checked by the compiler (a missing, extra or mistyped one does not
 * type-check). The transport checks at start-up that each method carries its `@MessagePattern`.
 */
export type RpcRoutes<N extends ServiceName> = { readonly [S in ServiceSubject<N>]: RpcRoute<RpcMethod<S>> };

/** The route to `handlerClass.prototype[method]`, typed by the method for {@link RpcRoutes}. */
export function answeredBy<T, K extends keyof T & string>(handlerClass: Type<T>, method: K): RpcRoute<T[K]> {
  return { handlerClass, method };
}

/** The handler classes of a service's routes: its module's controllers. */
export function rpcControllers(routes: Record<string, RpcRoute>): Type<unknown>[] {
  return [...new Set(Object.values(routes).map((route) => route.handlerClass))];
}

const CONTRACT_CLASSES: ReadonlySet<unknown> = new Set(Object.values(RpcRequestClasses));

/**
 * Validates a handler's message (the parameter declared with its contract class) with
 * `validateMessage`; other parameters (the call context) pass through. The transport checks at
 * start-up that every handler declares its subject's class, so no message goes unvalidated. An
 * instance of the class is a message `RpcServer` has validated already (a bot's, to check its
 * pools): parsed JSON is never one, so only those pass without a second validation.
 */
@Injectable()
export class RpcMessagePipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (!CONTRACT_CLASSES.has(metadata.metatype)) return value;
    const messageClass = metadata.metatype as new () => object;
    return value instanceof messageClass ? value : validateMessage(messageClass, value);
  }
}

/** Maps whatever a handler (or its pipe) throws to the contract's error body, which the transport sends. */
@Catch()
@Injectable()
export class RpcErrorFilter implements RpcExceptionFilter<unknown> {
  constructor(private readonly errors: RpcErrors) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    const call = host.switchToRpc().getContext<RpcCall>();
    return throwError(() => new RpcException(this.errors.bodyOf(exception, call.subject)));
  }
}

/** Marks a class of `@MessagePattern` handlers: its messages validated, its errors mapped. */
export const RpcController = (): ClassDecorator => applyDecorators(Controller(), UsePipes(RpcMessagePipe), UseFilters(RpcErrorFilter));

/**
 * The Nest transport of the services' RPC: serves each `@MessagePattern` subject as `prefix +
 * subject` with the service's queue group, over the service's own NATS connection (Nest's built-in
 * NATS transport opens its own, without the run-time prefix), and answers in the `{ok,
 * result|error}` envelope the gateway and the SDK read.
 */
export class NatsRpcTransport extends Server implements CustomTransportStrategy {
  constructor(
    private readonly server: RpcServer,
    private readonly routes: Record<string, RpcRoute>,
  ) {
    super();
  }

  /** Two handlers for one subject would leave one of them silently unused. */
  override addHandler(pattern: unknown, callback: MessageHandler, isEventHandler = false, extras: Record<string, unknown> = {}): void {
    const subject = this.normalizePattern(pattern as string);
    if (isEventHandler) throw new Error(`@EventPattern(${subject}): events travel by JetStream consumers, not by the RPC transport`);
    if (this.messageHandlers.has(subject)) throw new Error(`${subject} has two @MessagePattern handlers`);
    super.addHandler(pattern, callback, isEventHandler, extras);
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      const problems = routeProblems(this.routes, this.messageHandlers);
      if (problems.length > 0) throw new Error(`the RPC handlers do not match their routes:\n  ${problems.join('\n  ')}`);
      await this.server.subscribe([...this.messageHandlers.keys()] as RpcSubject[], async (subject, payload, call) => {
        const result: unknown = await this.messageHandlers.get(subject)!(payload, call);
        return isObservable(result) ? lastValueFrom(result) : result;
      });
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    await this.server.stop();
  }

  on(): never {
    throw new Error('NatsRpcTransport has no events to listen to');
  }

  unwrap<T>(): T {
    return this.server as T;
  }
}

/** Everything wrong between a service's routes and the handlers Nest registered; empty when they match. */
export function routeProblems(routes: Record<string, RpcRoute>, handlers: ReadonlyMap<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [subject, { handlerClass, method }] of Object.entries(routes)) {
    const where = `${handlerClass.name}.${method}`;
    const patterns: unknown[] = Reflect.getMetadata(PATTERN_METADATA, handlerClass.prototype[method]) ?? [];
    if (!patterns.includes(subject)) problems.push(`${subject}: ${where} has no @MessagePattern('${subject}')`);
    const [messageClass] = (Reflect.getMetadata('design:paramtypes', handlerClass.prototype, method) ?? []) as unknown[];
    const expected = RpcRequestClasses[subject as RpcSubject];
    if (messageClass !== expected) problems.push(`${subject}: ${where} must take its message as ${expected?.name ?? 'a contract class'} (its first parameter) to be validated`);
    if (!handlers.has(subject)) problems.push(`${subject}: no handler registered (is ${handlerClass.name} among the module's controllers?)`);
  }
  for (const subject of handlers.keys()) if (!(subject in routes)) problems.push(`${subject}: handled but not in the service's routes`);
  return problems;
}
