/** `@hms-act/client`: the ACT calls the Management Layer guides show, over `@hms/client`. */
export { ActClient } from './act-client';
export type { JobTicket, SeedCallOptions, SetSlaInput, StartJobInput } from './act-client';
