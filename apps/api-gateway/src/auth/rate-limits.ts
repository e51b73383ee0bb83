import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { DomainError } from '@hms/contracts';
import type { FastifyReply } from 'fastify';
import { GatewayConfig } from '../gateway.config';

/** Who a call counts against: the token's subject, or the client's address when it has no valid token. */
export type RateLimitKey = { subject: string } | { address: string };

/**
 * Call limits per token subject and per address (GATEWAY_RATE_LIMIT_*) over a sliding window (no
 * burst can straddle two windows to get twice the limit), kept in
 * @nestjs/throttler's in-memory storage. Per replica: N gateway replicas behind a balancer allow
 * up to N times the limit, which is the price of not sharing state between them (docs/security.md).
 */
@Injectable()
export class RateLimits implements OnApplicationShutdown {
  private readonly storage = new ThrottlerStorageService();

  constructor(private readonly config: GatewayConfig) {}

  /** Counts one call; over the limit, sets Retry-After and throws RATE_LIMITED (429). */
  async hit(key: RateLimitKey, reply: FastifyReply): Promise<void> {
    if (this.config.HMS_RATE_LIMIT_DISABLED) return;
    const [name, limit] = 'subject' in key ? [`sub:${key.subject}`, this.config.GATEWAY_RATE_LIMIT_PER_TOKEN] : [`addr:${key.address}`, this.config.GATEWAY_RATE_LIMIT_PER_ADDRESS];
    const windowMs = this.config.GATEWAY_RATE_LIMIT_WINDOW_SECONDS * 1000;
    const record = await this.storage.increment(name, windowMs, limit, windowMs, 'gateway');
    if (!record.isBlocked) return;
    reply.header('Retry-After', String(Math.max(1, record.timeToBlockExpire)));
    throw new DomainError('RATE_LIMITED', `Too many calls; retry after ${Math.max(1, record.timeToBlockExpire)} s`);
  }

  onApplicationShutdown(): void {
    this.storage.onApplicationShutdown();
  }
}
