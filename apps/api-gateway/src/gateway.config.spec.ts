import { ConfigError, loadConfig } from '@hms/platform';
import { GatewayConfig } from './gateway.config';

const infra = { DATABASE_URL: 'postgres://u@h/db', NATS_URL: 'nats://h:4222' };

describe(GatewayConfig.name, () => {
  it('defaults to the limits a real deployment wants, with rate limits on', () => {
    expect(loadConfig(GatewayConfig, infra)).toMatchObject({
      HMS_JWT_MAX_LIFETIME_SECONDS: 86_400,
      GATEWAY_RATE_LIMIT_PER_TOKEN: 200,
      GATEWAY_RATE_LIMIT_PER_ADDRESS: 50,
      GATEWAY_RATE_LIMIT_WINDOW_SECONDS: 10,
      HMS_RATE_LIMIT_DISABLED: false,
      GATEWAY_TRUSTED_PROXIES: 0,
    });
  });

  it('switches rate limits off only for HMS_RATE_LIMIT_DISABLED=1', () => {
    expect(loadConfig(GatewayConfig, { ...infra, HMS_RATE_LIMIT_DISABLED: '1' }).HMS_RATE_LIMIT_DISABLED).toBe(true);
    expect(loadConfig(GatewayConfig, { ...infra, HMS_RATE_LIMIT_DISABLED: '0' }).HMS_RATE_LIMIT_DISABLED).toBe(false);
  });

  it('refuses a JWKS URL that is not https, and a token lifetime beyond a week', () => {
    expect(() => loadConfig(GatewayConfig, { ...infra, HMS_JWT_JWKS_URL: 'http://idp.example/jwks.json' })).toThrow(ConfigError);
    expect(loadConfig(GatewayConfig, { ...infra, HMS_JWT_JWKS_URL: 'https://idp.example/jwks.json' }).HMS_JWT_JWKS_URL).toBe('https://idp.example/jwks.json');
    expect(() => loadConfig(GatewayConfig, { ...infra, HMS_JWT_MAX_LIFETIME_SECONDS: String(30 * 86_400) })).toThrow(ConfigError);
  });
});
