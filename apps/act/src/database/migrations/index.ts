import { CreateActSchema1795217124044 } from './1795217124044-CreateActSchema';
import { LedgerAppendOnly1795217124045 } from './1795217124045-LedgerAppendOnly';

/** In order; merged migrations are never edited. */
export const ACT_MIGRATIONS = [CreateActSchema1795217124044, LedgerAppendOnly1795217124045];
