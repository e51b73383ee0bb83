import { IsInt, IsOptional } from 'class-validator';
import { configureLimits, DEFAULT_LIMITS, limits } from '@hms/contracts';
import { ConfigError, EnvNumber, InfraConfig, loadConfig } from './load-config';

class ExampleConfig extends InfraConfig {
  @EnvNumber()
  @IsOptional()
  @IsInt()
  EXAMPLE_SWEEP_MS: number = 500;
}

describe(loadConfig.name, () => {
  const valid = { DATABASE_URL: 'postgres://u@h:5432/db', NATS_URL: 'nats://127.0.0.1:4222' };

  it('applies defaults and converts numbers when the environment is valid', () => {
    const config = loadConfig(ExampleConfig, { ...valid, EXAMPLE_SWEEP_MS: '250', PORT: '8080' });
    expect(config.EXAMPLE_SWEEP_MS).toBe(250);
    expect(config.PORT).toBe(8080);
    expect(config.HMS_SUBJECT_PREFIX).toBe('');
    expect(config.HMS_JETSTREAM_REPLICAS).toBe(1);
  });

  it('lists every problem at once when several settings are wrong', () => {
    let error: unknown;
    try {
      loadConfig(ExampleConfig, { DATABASE_URL: 'mysql://x', NATS_URL: 'nats://x:1', EXAMPLE_SWEEP_MS: 'soon', HMS_SUBJECT_PREFIX: 'no dots' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/DATABASE_URL/);
    expect(problems).toMatch(/EXAMPLE_SWEEP_MS/);
    expect(problems).toMatch(/HMS_SUBJECT_PREFIX/);
  });

  it('refuses a missing NATS_URL', () => {
    expect(() => loadConfig(ExampleConfig, { DATABASE_URL: valid.DATABASE_URL })).toThrow(/NATS_URL/);
  });

  it('refuses a NATS user without its password or the actor key, which would leave actor headers unsigned', () => {
    expect(() => loadConfig(ExampleConfig, { ...valid, NATS_USER: 'act', HMS_ACTOR_KEY: 'k'.repeat(32) })).toThrow(/NATS_PASSWORD is required/);
    expect(() => loadConfig(ExampleConfig, { ...valid, NATS_USER: 'act', NATS_PASSWORD: 'pw' })).toThrow(/HMS_ACTOR_KEY is required/);
    expect(() => loadConfig(ExampleConfig, { ...valid, NATS_USER: 'act', NATS_PASSWORD: 'pw', HMS_ACTOR_KEY: 'short' })).toThrow(/at least 32/);
    expect(loadConfig(ExampleConfig, { ...valid, NATS_USER: 'act', NATS_PASSWORD: 'pw', HMS_ACTOR_KEY: 'k'.repeat(32) }).NATS_USER).toBe('act');
  });

  describe('limits', () => {
    afterEach(() => configureLimits({}));

    it('puts the defaults in force when no HMS_LIMIT_* is set', () => {
      configureLimits({ planSteps: 3 });
      loadConfig(ExampleConfig, valid);
      expect(limits()).toEqual(DEFAULT_LIMITS);
    });

    it('puts the HMS_LIMIT_* settings in force for the process', () => {
      loadConfig(ExampleConfig, { ...valid, HMS_LIMIT_PAYLOAD_KB: '64', HMS_LIMIT_JSON_DEPTH: '16', HMS_LIMIT_PLAN_STEPS: '20', HMS_LIMIT_PLAN_KB: '32' });
      expect(limits()).toEqual({ ...DEFAULT_LIMITS, payloadBytes: 64 * 1024, jsonDepth: 16, planSteps: 20, planBytes: 32 * 1024 });
    });

    it('refuses limits out of their range, and keeps the ones in force', () => {
      expect(() => loadConfig(ExampleConfig, { ...valid, HMS_LIMIT_PLAN_STEPS: '0', HMS_LIMIT_JSON_DEPTH: 'deep' })).toThrow(/HMS_LIMIT_PLAN_STEPS[\s\S]*HMS_LIMIT_JSON_DEPTH|HMS_LIMIT_JSON_DEPTH[\s\S]*HMS_LIMIT_PLAN_STEPS/);
      expect(limits()).toEqual(DEFAULT_LIMITS);
    });
  });
});
