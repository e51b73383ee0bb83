/** Nest injection tokens of the platform. */
export const LOGGER = Symbol('LOGGER');
export const CLOCK = Symbol('CLOCK');
export const PLATFORM_OPTIONS = Symbol('PLATFORM_OPTIONS');
/** The app's `RpcRoutes<service>`: which handler method answers each of its subjects. */
export const RPC_ROUTES = Symbol('RPC_ROUTES');
/** The app's `EventSubscription[]`. */
export const EVENT_SUBSCRIPTIONS = Symbol('EVENT_SUBSCRIPTIONS');
/** The app's `BackgroundJob[]` (sweeps, schedulers). */
export const BACKGROUND_JOBS = Symbol('BACKGROUND_JOBS');
