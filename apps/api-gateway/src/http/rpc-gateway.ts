import { Injectable } from '@nestjs/common';
import { DomainError, type Actor, type RpcRequest, type RpcResponse, type RpcSubject } from '@hms/contracts';
import { RpcClient } from '@hms/platform';
import { GatewayConfig } from '../gateway.config';

/** The controllers' one way to reach a service: NATS request/reply with the caller as actor. */
@Injectable()
export class RpcGateway {
  constructor(
    private readonly rpc: RpcClient,
    private readonly config: GatewayConfig,
  ) {}

  call<S extends RpcSubject>(subject: S, message: RpcRequest<S>, actor: Actor, extraTimeoutMs = 0): Promise<RpcResponse<S>> {
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
