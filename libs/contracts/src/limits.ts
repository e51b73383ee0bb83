/**
 * Limits that bound what one caller may ask of the system. Each is here once, so the gateway,
 * the services and the docs quote the same number.
 */

/**
 * Clock skew tolerated between the token issuer and the gateway: a token's `iat` may be this far
 * in the future (a minute covers NTP-synchronised hosts with margin, and is far too short to
 * pre-issue tokens that outlive a revoked secret).
 */
export const TOKEN_CLOCK_SKEW_SECONDS = 60;

/** Longest lifetime (`exp` - `iat`) of an access token unless the gateway is configured otherwise. */
export const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 24 * 3600;

/**
 * The longest lease (and heartbeat extension) of a pool that sets no `maxLeaseSeconds`: an hour
 * is longer than any step should hold a task without a heartbeat, and short enough that a worker
 * that vanished without a trace gives its task back the same working hour.
 */
export const DEFAULT_MAX_LEASE_SECONDS = 3600;

/** The largest `maxLeaseSeconds` (and `leaseSeconds`) a pool may set: a week. */
export const LEASE_SECONDS_CEILING = 7 * 24 * 3600;

/**
 * Metrics streams (SSE) one token may hold open on one gateway replica: a dashboard needs one
 * per tab; more is a client that forgot to close its streams (or an attempt to exhaust sockets).
 */
export const METRICS_STREAMS_PER_TOKEN = 5;

/** Longest accepted escalation webhook URL. */
export const WEBHOOK_URL_MAX_LENGTH = 2000;
