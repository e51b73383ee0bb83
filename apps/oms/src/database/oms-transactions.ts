import { Injectable } from '@nestjs/common';
import { EventOutbox, type Emit } from '@hms/platform';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * `EventOutbox.transaction` with one difference: the relay is woken only when the transaction
 * wrote events. Most lease polls and sweeps find nothing to do, and waking the relay after each
 * would cost it a locking read of the outbox per poll. Same contract otherwise: the events are
 * inserted in the same transaction as the change (one multi-row insert) and relayed after commit.
 */
@Injectable()
export class OmsTransactions {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: EventOutbox,
  ) {}

  async run<T>(work: (tx: EntityManager, emit: Emit) => Promise<T>): Promise<T> {
    const { emit, events } = this.outbox.collector();
    const result = await this.dataSource.transaction(async (tx) => {
      const value = await work(tx, emit);
      await this.outbox.append(tx, events);
      return value;
    });
    if (events.length > 0) this.outbox.kick();
    return result;
  }
}
