export * from './infra';
export * from './stack';
export * from './test-env';
export * from './embedded-postgres';
export * from './supervisor';
export * from './test-nats';
export * from './statements';
