import { Injectable } from '@nestjs/common';
import { DomainError, RpcRequestClasses, type Actor, type RpcRequest, type RpcResponse, type RpcSubject } from '@hms/contracts';
import { RpcClient, validateMessage } from '@hms/platform';
import { GatewayConfig } from '../gateway.config';

/**
 * The controllers' one way to reach a service: NATS request/reply with the caller as actor.
 * Every message is validated here first, against the same contract class and limits the service
 * checks again: bad input (path and query values included) is answered without a NATS round
 * trip, and nothing over a limit is ever put on NATS.
 */
@Injectable()
export class RpcGateway {
  constructor(
    private readonly rpc: RpcClient,
    private readonly config: GatewayConfig,
  ) {}

  async call<S extends RpcSubject>(subject: S, message: RpcRequest<S>, actor: Actor, extraTimeoutMs = 0): Promise<RpcResponse<S>> {
    validateMessage(RpcRequestClasses[subject], message);
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
