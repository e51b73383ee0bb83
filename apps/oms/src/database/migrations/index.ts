import { CreateOmsSchema1763683300000 } from './1763683300000-CreateOmsSchema';

/** In order; merged migrations are never edited. */
export const OMS_MIGRATIONS = [CreateOmsSchema1763683300000];
