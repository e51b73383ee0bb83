import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_PAGE_SIZE, DomainError, INT4_MAX, type AnyHmsEvent, type HistoryVerifyResult, type LedgerEntryView, type Page, isUuid } from '@hms/contracts';
import { LOGGER, pageThatFits } from '@hms/platform';
import type { Logger } from 'pino';
import { DataSource, type EntityManager } from 'typeorm';
import { findRequest } from '../requests/requests.repository';
import { appendLedgerEntries, type LedgerEvent } from './ledger-append';
import { LedgerEntryEntity } from './ledger-entry.entity';
import { CheckpointError } from './checkpoint-format';
import { ChainVerifier, GENESIS_HASH, type ChainEntry, type ChainExpectations } from './hash-chain';
import { LedgerCheckpoints } from './ledger-checkpoints';
import { LedgerHeadEntity } from './ledger-head.entity';

const VERIFY_BATCH = 1000;

function toChainEntry(row: LedgerEntryEntity): ChainEntry {
  return {
    requestId: row.requestId,
    seq: row.seq,
    eventId: row.eventId,
    at: row.at.toISOString(),
    type: row.type,
    actor: row.actor,
    data: row.data,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

/** The hash-chained ledger of requests: append, read, verify. */
@Injectable()
export class LedgerService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly checkpoints: LedgerCheckpoints,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Appends the events of a consumed batch to their requests' chains, in the caller's
   * transaction (a constant number of statements), and returns the ids (lower case) of those
   * recorded now: an event already in the ledger was handled before, with everything that ran
   * in the same transaction. Events of no request have no chain and are not returned; a
   * malformed envelope is logged and left out (retrying cannot make it valid).
   */
  async record(events: AnyHmsEvent[], tx: EntityManager): Promise<Set<string>> {
    const entries: LedgerEvent[] = [];
    for (const event of events) {
      if (event.requestId === null || event.requestId === undefined) continue;
      if (!isUuid(event.requestId) || typeof event.type !== 'string' || Number.isNaN(new Date(event.at).getTime())) {
        this.logger.error({ eventId: event.id, type: event.type, requestId: event.requestId }, 'ledger: dropping a malformed event');
        continue;
      }
      entries.push({ id: event.id, requestId: event.requestId, type: event.type, at: event.at, actor: typeof event.actor === 'string' ? event.actor : 'unknown', data: event.data });
    }
    const appended = await appendLedgerEntries(tx, entries);
    return new Set(appended.flatMap((entry) => (entry ? [entry.eventId.toLowerCase()] : [])));
  }

  /** Entries oldest first; the cursor is the last seq of the previous page. */
  async history(id: string, cursor: string | undefined, limit = DEFAULT_PAGE_SIZE, maxPayload: number): Promise<Page<LedgerEntryView>> {
    await this.requireRequest(id);
    const afterSeq = cursor === undefined ? 0 : Number(cursor);
    // A seq is an int4 column: a larger number cannot name an entry (and Postgres would refuse to compare it).
    if (!/^\d{1,10}$/.test(cursor ?? '0') || afterSeq > INT4_MAX) {
      throw new DomainError('VALIDATION_FAILED', 'The cursor is not valid', [{ path: 'cursor', message: 'pass back the nextCursor of the previous page' }]);
    }
    const rows = await this.page(this.dataSource.manager, id, afterSeq, limit + 1);
    // Entries carry their events' data (payloads, outputs): a page holds as many as fit in one NATS answer.
    return pageThatFits(
      rows,
      limit,
      (row) => ({ seq: row.seq, at: row.at.toISOString(), type: row.type, actor: row.actor, data: row.data, hash: row.hash, prevHash: row.prevHash }),
      (last) => String(last.seq),
      maxPayload,
    );
  }

  /**
   * Recomputes the request's chain from the stored entries, page by page, and holds it against
   * the latest signed checkpoint and the chain head. The checkpoint is read first and the head
   * and entries in one snapshot after it, so appends running meanwhile are never taken for
   * tampering.
   */
  async verify(id: string): Promise<HistoryVerifyResult> {
    await this.requireRequest(id);
    let checkpoint: ChainExpectations['checkpoint'];
    try {
      checkpoint = await this.checkpoints.headOf(id);
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      this.logger.error({ err: error, requestId: id }, 'ledger: the latest checkpoint cannot be trusted');
      const entries = await this.dataSource.getRepository(LedgerEntryEntity).countBy({ requestId: id });
      return { valid: false, entries, reason: `the latest checkpoint cannot be trusted: ${error.message}` };
    }
    return this.dataSource.transaction('REPEATABLE READ', async (tx) => {
      const verifier = new ChainVerifier({ checkpoint, head: await this.head(tx, id) });
      for (let afterSeq = 0; ; ) {
        const rows = await this.page(tx, id, afterSeq, VERIFY_BATCH);
        for (const row of rows) verifier.push(toChainEntry(row));
        if (rows.length < VERIFY_BATCH) break;
        afterSeq = rows[rows.length - 1].seq;
      }
      return verifier.result();
    });
  }

  private async head(manager: EntityManager, requestId: string): Promise<{ entries: number; hash: string }> {
    const row = await manager.getRepository(LedgerHeadEntity).findOneBy({ requestId });
    return row ? { entries: row.entries, hash: row.hash } : { entries: 0, hash: GENESIS_HASH };
  }

  /** A range of the primary key (request_id, seq). */
  private page(manager: EntityManager, requestId: string, afterSeq: number, limit: number): Promise<LedgerEntryEntity[]> {
    return manager
      .getRepository(LedgerEntryEntity)
      .createQueryBuilder('e')
      .where('e.requestId = :requestId AND e.seq > :afterSeq', { requestId, afterSeq })
      .orderBy('e.seq', 'ASC')
      .limit(limit)
      .getMany();
  }

  private async requireRequest(id: string): Promise<void> {
    const request = isUuid(id) ? await findRequest(this.dataSource.manager, id) : null;
    if (!request) throw DomainError.notFound('Request', id);
  }
}
