import { freePort, startNatsServer, testNatsAuth, testNatsIdentity } from '@hms/testing';
import { NatsBus } from './nats-bus';

/** Resolves once `probe` holds, polling the observable state. */
async function until(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Readiness follows the NATS connection: false while the client reconnects, true again once it has. */
describe(NatsBus.name, () => {
  it('reports not connected while the server is away, and connected again after it is back', async () => {
    const port = await freePort();
    // With the run's users, as every server of the suite: the reconnect logs in again.
    const auth = testNatsAuth();
    let server = await startNatsServer({ port, auth });
    const bus = await NatsBus.connect(server.url, 'readiness.', 'nats-bus-test', testNatsIdentity('oms'));
    try {
      expect(bus.isConnected).toBe(true);

      await server.stop();
      await until(() => !bus.isConnected);

      server = await startNatsServer({ port, auth });
      await until(() => bus.isConnected);
      await expect(bus.connection.flush()).resolves.toBeUndefined();
    } finally {
      await bus.close();
      await server.stop();
    }
  });
});
