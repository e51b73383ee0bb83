/** `@hms-oms/queue`: `reserve(queue)` and `job.report()`, as the Management Layer guides show, over `@hms/client`. */
export { reserve } from './reserve';
export type { JobOutcome, ReserveOptions, ReservedJob } from './reserve';
