import { CreateActSchema1795217124044 } from './1795217124044-CreateActSchema';
import { LedgerAppendOnly1795217124045 } from './1795217124045-LedgerAppendOnly';
import { CreateScheduleFires1795217124046 } from './1795217124046-CreateScheduleFires';
import { RequestSlaBreach1795217124047 } from './1795217124047-RequestSlaBreach';
import { ProcessedEventsRetention1795240000000 } from './1795240000000-ProcessedEventsRetention';
import { IdempotencyKeyPerCaller1795250000000 } from './1795250000000-IdempotencyKeyPerCaller';
import { LedgerHeads1795300000000 } from './1795300000000-LedgerHeads';
import { ParkedEvents1795300000100 } from './1795300000100-ParkedEvents';
import { RequestResult1795400000100 } from './1795400000100-RequestResult';
import { FanOuts1795500000000 } from './1795500000000-FanOuts';
import { LedgerHeadsHot1795600000000 } from './1795600000000-LedgerHeadsHot';

/** In order; merged migrations are never edited. */
export const ACT_MIGRATIONS = [
  CreateActSchema1795217124044,
  LedgerAppendOnly1795217124045,
  CreateScheduleFires1795217124046,
  RequestSlaBreach1795217124047,
  ProcessedEventsRetention1795240000000,
  IdempotencyKeyPerCaller1795250000000,
  LedgerHeads1795300000000,
  ParkedEvents1795300000100,
  RequestResult1795400000100,
  FanOuts1795500000000,
  LedgerHeadsHot1795600000000,
];
