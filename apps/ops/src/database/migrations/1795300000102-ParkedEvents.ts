import type { MigrationInterface, QueryRunner } from 'typeorm';
import { parkedEventsTableDownSql, parkedEventsTableUpSql } from '@hms/platform';

/** `ops.parked_events`: events ops's consumers gave up on, for operators to list and replay (ParkedEvents). */
export class ParkedEvents1795300000102 implements MigrationInterface {
  name = 'ParkedEvents1795300000102';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of parkedEventsTableUpSql('ops')) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of parkedEventsTableDownSql('ops')) await queryRunner.query(sql);
  }
}
