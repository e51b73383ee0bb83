import { Injectable } from '@nestjs/common';
import { DomainError, type Actor, type RpcRequest, type RpcResponse, type RpcSubject } from '@hms/contracts';
import { assertMessageDepth, RpcClient } from '@hms/platform';
import { GatewayConfig } from '../gateway.config';

/**
 * The controllers' one way to reach a service: NATS request/reply with the caller as actor.
 * The message is validated once, by the service, against its contract class and limits: the
 * service must check every message anyway (bots call it over NATS, skipping the gateway), and a
 * second check here cost the gateway a tenth of its CPU per call for answers the service gives
 * alike (same class, same details, same status). What the gateway still checks is what it needs
 * to forward a message at all: the body's size (its parser's limit; NATS's `max_payload` in
 * {@link RpcClient}) and its depth, since serializing a body nested 50,000 deep would overflow
 * the stack here and answer 500.
 */
@Injectable()
export class RpcGateway {
  constructor(
    private readonly rpc: RpcClient,
    private readonly config: GatewayConfig,
  ) {}

  async call<S extends RpcSubject>(subject: S, message: RpcRequest<S>, actor: Actor, extraTimeoutMs = 0): Promise<RpcResponse<S>> {
    assertMessageDepth(message);
    return this.rpc.call(subject, message, { actor, timeoutMs: this.config.GATEWAY_RPC_TIMEOUT_MS + extraTimeoutMs });
  }
}

/** Merges path parameters into a JSON body, refusing bodies that are not objects. */
export function bodyWith<T extends object>(body: unknown, extra: T): T & Record<string, unknown> {
  if (body === undefined || body === null || body === '') return { ...extra } as T & Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new DomainError('VALIDATION_FAILED', 'The request body must be a JSON object', [{ path: '', message: 'expected an object' }]);
  }
  return { ...(body as Record<string, unknown>), ...extra };
}
