import type { MigrationInterface, QueryRunner } from 'typeorm';
import { processedEventsRetentionIndexDownSql, processedEventsRetentionIndexUpSql } from '@hms/platform';

/** `act.processed_events` by `processed_at`, for the retention sweep (ProcessedEventsRetention). */
export class ProcessedEventsRetention1795240000000 implements MigrationInterface {
  name = 'ProcessedEventsRetention1795240000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(processedEventsRetentionIndexUpSql('act'));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(processedEventsRetentionIndexDownSql('act'));
  }
}
