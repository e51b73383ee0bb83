import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource, type EntityManager, type EntitySubscriberInterface, type QueryRunner, type TransactionCommitEvent, type TransactionRollbackEvent } from 'typeorm';

/**
 * Runs callbacks once the transaction they were registered in has committed, and drops them if
 * it rolls back. Needed where the code does not own the transaction (event consumers run inside
 * the platform's), and used everywhere for one rule: tell other replicas about a change only
 * when they can see it. A wake-up sent before the commit would find nothing and be lost.
 */
@Injectable()
export class AfterCommit implements EntitySubscriberInterface {
  private readonly pending = new WeakMap<QueryRunner, Array<() => void>>();

  constructor(
    dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // TypeORM reads the subscriber list live on every commit, so joining it late is enough.
    dataSource.subscribers.push(this);
  }

  /** Runs `callback` after `tx` commits (at once when `tx` is not in a transaction). */
  run(tx: EntityManager, callback: () => void): void {
    const runner = tx.queryRunner;
    if (!runner?.isTransactionActive) {
      callback();
      return;
    }
    const callbacks = this.pending.get(runner);
    if (callbacks) callbacks.push(callback);
    else this.pending.set(runner, [callback]);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const runner = event.queryRunner;
    // Still active after a savepoint release: the outer transaction has not committed yet.
    if (runner.isTransactionActive) return;
    const callbacks = this.pending.get(runner);
    if (!callbacks) return;
    this.pending.delete(runner);
    for (const callback of callbacks) {
      // The transaction is committed: a failing callback must not make the caller think otherwise.
      try {
        callback();
      } catch (error) {
        this.logger.warn({ err: error }, 'after-commit callback failed');
      }
    }
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) this.pending.delete(event.queryRunner);
  }
}
