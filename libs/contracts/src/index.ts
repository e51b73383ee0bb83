// Decorator metadata (class-transformer's @Type, Nest DI) needs the Reflect API before any class loads.
import 'reflect-metadata';

export * from './errors';
export * from './limits';
export * from './auth';
export * from './statuses';
export * from './plan.schema';
export * from './pagination';
export * from './ids';
export * from './limits';
export * from './plans.messages';
export * from './requests.messages';
export * from './pools.messages';
export * from './tasks.messages';
export * from './metrics.messages';
export * from './alerts.messages';
export * from './scaling.messages';
export * from './parked-events.messages';
export * from './limits';
export * from './events';
export * from './subjects';
export * from './rpc-validation';
