import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A request's chain head, kept outside the entries: how many entries its chain has and the hash
 * of the last. Written by every append (ledger-append.ts) and read by verify and the checkpoint.
 */
@Entity({ name: 'ledger_heads', schema: 'act' })
// The heads the next checkpoint must write (see LedgerCheckpointJob).
@Index('ledger_heads_unchecked_idx', ['requestId'], { where: `"entries" <> "checkpointed_entries"` })
export class LedgerHeadEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'ledger_heads_pkey' })
  requestId: string;

  @Column('integer')
  entries: number;

  @Column('text')
  hash: string;

  /** The entry count of this head in the latest checkpoint written (0: never checkpointed). */
  @Column('integer', { default: 0 })
  checkpointedEntries: number;
}
