import type { MigrationInterface, QueryRunner } from 'typeorm';
import { processedEventsRetentionIndexDownSql, processedEventsRetentionIndexUpSql } from '@hms/platform';

/** `oms.processed_events` by `processed_at`, for the retention sweep (ProcessedEventsRetention). */
export class ProcessedEventsRetention1795240000001 implements MigrationInterface {
  name = 'ProcessedEventsRetention1795240000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(processedEventsRetentionIndexUpSql('oms'));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(processedEventsRetentionIndexDownSql('oms'));
  }
}
