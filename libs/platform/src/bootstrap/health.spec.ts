import type { DataSource } from 'typeorm';
import type { NatsBus } from '../nats/nats-bus';
import { HealthController, Readiness } from './platform.module';

describe(HealthController.name, () => {
  const answer = async (options: { started: boolean; nats: boolean; postgres?: boolean }) => {
    const readiness = new Readiness();
    readiness.ready = options.started;
    const bus = { isConnected: options.nats } as NatsBus;
    const dataSource =
      options.postgres === undefined ? undefined : ({ query: () => (options.postgres ? Promise.resolve([]) : Promise.reject(new Error('down'))) } as unknown as DataSource);
    let status = 200;
    const body = await new HealthController(readiness, bus, dataSource).ready({ status: (code: number) => (status = code) });
    return { status, body };
  };

  it('answers 200 with every check up when started, connected and Postgres answers', async () => {
    expect(await answer({ started: true, nats: true, postgres: true })).toEqual({ status: 200, body: { status: 'ok', checks: { started: 'up', nats: 'up', postgres: 'up' } } });
  });

  it('answers 503 with the same body naming the check that is down, with or without Postgres', async () => {
    expect(await answer({ started: true, nats: true, postgres: false })).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { started: 'up', nats: 'up', postgres: 'down' } },
    });
    // The gateway has no Postgres.
    expect(await answer({ started: true, nats: false })).toEqual({ status: 503, body: { status: 'unavailable', checks: { started: 'up', nats: 'down' } } });
  });
});
