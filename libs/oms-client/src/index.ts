/** `@hms-oms/client`: the OMS calls the Management Layer guides show, over `@hms/client`. */
export { OmsClient, toQueuedJob } from './oms-client';
export type { PeekOptions, QueuedJob, QueuePeek } from './oms-client';
