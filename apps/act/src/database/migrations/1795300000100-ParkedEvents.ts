import type { MigrationInterface, QueryRunner } from 'typeorm';
import { parkedEventsTableDownSql, parkedEventsTableUpSql } from '@hms/platform';

/** `act.parked_events`: events act's consumers gave up on, for operators to list and replay (ParkedEvents). */
export class ParkedEvents1795300000100 implements MigrationInterface {
  name = 'ParkedEvents1795300000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of parkedEventsTableUpSql('act')) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of parkedEventsTableDownSql('act')) await queryRunner.query(sql);
  }
}
