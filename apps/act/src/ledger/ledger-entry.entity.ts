import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/**
 * One entry of a request's hash-chained ledger. Append-only: a trigger refuses UPDATE and DELETE.
 * The primary key (request_id, seq) is also the index history pages and the append's "last
 * entry" lookup read.
 */
@Entity({ name: 'ledger_entries', schema: 'act' })
@Unique('ledger_entries_event_id_key', ['eventId'])
export class LedgerEntryEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'ledger_entries_pkey' })
  requestId: string;

  @PrimaryColumn('integer', { primaryKeyConstraintName: 'ledger_entries_pkey' })
  seq: number;

  /** The event this entry records; unique, so a redelivered event is never appended twice. */
  @Column('uuid')
  eventId: string;

  @Column('timestamptz')
  at: Date;

  @Column('text')
  type: string;

  @Column('text')
  actor: string;

  @Column('jsonb')
  data: Record<string, unknown>;

  @Column('text')
  prevHash: string;

  @Column('text')
  hash: string;
}
