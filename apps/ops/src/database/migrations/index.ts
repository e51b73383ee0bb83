import { CreateOpsSchema1763683200000 } from './1763683200000-CreateOpsSchema';

/** In order; merged migrations are never edited. */
export const OPS_MIGRATIONS = [CreateOpsSchema1763683200000];
