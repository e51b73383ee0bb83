import { ConfigError, loadConfig } from '@hms/platform';
import { ActConfig } from './act.config';

const infra = { DATABASE_URL: 'postgres://u@h/db', NATS_URL: 'nats://h:4222' };

describe(ActConfig.name, () => {
  it('has defaults for every ACT setting', () => {
    const config = loadConfig(ActConfig, infra);
    expect(config).toMatchObject({ PORT: 3001, ACT_DB_POOL_SIZE: 10, ACT_SCHEDULE_TICK_MS: 1000, HMS_SUBJECT_PREFIX: '' });
    expect(config.HMS_PLANS_DIR).toBeUndefined();
  });

  it('reads numbers and the plans folder from the environment', () => {
    const config = loadConfig(ActConfig, { ...infra, PORT: '3901', ACT_DB_POOL_SIZE: '25', HMS_PLANS_DIR: '/etc/hms/plans' });
    expect(config).toMatchObject({ PORT: 3901, ACT_DB_POOL_SIZE: 25, HMS_PLANS_DIR: '/etc/hms/plans' });
  });

  it('lists every bad setting at once', () => {
    expect(() => loadConfig(ActConfig, { ...infra, DATABASE_URL: 'mysql://x', ACT_DB_POOL_SIZE: 'many', PORT: '70000' })).toThrow(ConfigError);
    try {
      loadConfig(ActConfig, { ...infra, DATABASE_URL: 'mysql://x', ACT_DB_POOL_SIZE: 'many', PORT: '70000' });
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/DATABASE_URL/);
      expect(problems).toMatch(/ACT_DB_POOL_SIZE/);
      expect(problems).toMatch(/PORT/);
    }
  });
});
