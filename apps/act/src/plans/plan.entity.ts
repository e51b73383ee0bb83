import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { PlanDefinition } from '@hms/contracts';

/** One immutable version of a plan. */
@Entity({ name: 'plans', schema: 'act' })
export class PlanEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'plans_pkey' })
  id: string;

  /** 1, 2, …; the primary key (id, version) also serves "latest version" lookups (ORDER BY version DESC LIMIT 1). */
  @PrimaryColumn('integer', { primaryKeyConstraintName: 'plans_pkey' })
  version: number;

  @Column('text', { nullable: true })
  title: string | null;

  /** As written by its author (parsed from YAML or JSON), validated. */
  @Column('jsonb')
  definition: PlanDefinition;

  /** sha-256 of the canonical JSON of `definition`. */
  @Column('text')
  contentHash: string;

  @Column('timestamptz')
  createdAt: Date;

  @Column('text')
  createdBy: string;
}
