import type { MigrationInterface, QueryRunner } from 'typeorm';
import { parkedEventsTableDownSql, parkedEventsTableUpSql } from '@hms/platform';

/** `oms.parked_events`: events oms's consumers gave up on, for operators to list and replay (ParkedEvents). */
export class ParkedEvents1795300000101 implements MigrationInterface {
  name = 'ParkedEvents1795300000101';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of parkedEventsTableUpSql('oms')) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of parkedEventsTableDownSql('oms')) await queryRunner.query(sql);
  }
}
