import type { MigrationInterface, QueryRunner } from 'typeorm';
import { processedEventsRetentionIndexDownSql, processedEventsRetentionIndexUpSql } from '@hms/platform';

/** `ops.processed_events` by `processed_at`, for the retention sweep (ProcessedEventsRetention). */
export class ProcessedEventsRetention1795240000002 implements MigrationInterface {
  name = 'ProcessedEventsRetention1795240000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(processedEventsRetentionIndexUpSql('ops'));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(processedEventsRetentionIndexDownSql('ops'));
  }
}
