export * from './infra';
export * from './stack';
export * from './test-env';
