/** Stops the nats-server of {@link ./nats-global-setup} when it started one. */
export default async function natsGlobalTeardown(): Promise<void> {
  await (globalThis as { hmsTestNats?: { stop(): Promise<void> } }).hmsTestNats?.stop();
}
