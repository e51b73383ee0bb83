import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A request's chain head, kept outside the entries: how many entries its chain has and the hash
 * of the last. Written by every append (ledger-append.ts) and read by verify and the checkpoint.
 */
@Entity({ name: 'ledger_heads', schema: 'act' })
// The heads the next checkpoint must write (see LedgerCheckpointJob). The predicate is a flag, not
// `entries <> checkpointed_entries`: an append changes `entries`, and a column of an index's
// predicate changed makes the update non-HOT (a new entry in every index); the flag stays true.
@Index('ledger_heads_unchecked_idx', ['requestId'], { where: `"unchecked"` })
@Check('ledger_heads_unchecked_check', `"unchecked" = ("entries" <> "checkpointed_entries")`)
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

  /** Whether the head moved since the latest checkpoint: `entries <> checkpointed_entries`, kept so by a CHECK. */
  @Column('boolean', { default: false })
  unchecked: boolean;
}
