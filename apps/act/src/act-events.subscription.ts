import { OFF_PATH_LINGER_MS, type EventSubscription } from '@hms/platform';
import { LedgerService } from './ledger/ledger.service';
import type { FanOutJob } from './requests/fan-out.job';
import { WorkflowService } from './requests/workflow.service';

/**
 * ACT's one durable consumer (before the deployment prefix). The name predates the workflow
 * joining it, and is kept so that a deployment's ledger resumes where it was.
 */
const ACT_EVENTS_DURABLE = 'act-ledger';

/**
 * ACT reads the whole event stream once: each batch is appended to the ledger and, in the same
 * transaction, the task events among it move their requests' workflows.
 *
 * The ledger append doubles as the consumer's de-duplication: an event already in the ledger was
 * handled, workflow included, by the transaction that recorded it, so a redelivery is only
 * acknowledged. One consumer instead of two halves ACT's deliveries and acks per OMS event and
 * saves the `processed_events` row the workflow needed.
 *
 * The ledger's advisory locks are taken first, in request-id order, for every request of the
 * batch; the workflow then locks the request rows it moves, in one statement and the same order,
 * so two replicas' batches cannot deadlock.
 */
export function actEventsSubscription(ledger: LedgerService, workflow: WorkflowService, fanOuts: Pick<FanOutJob, 'wake'>): EventSubscription {
  return {
    durable: ACT_EVENTS_DURABLE,
    filter: '>',
    // Nobody waits on the ledger, and a workflow's next step may start a few ms later.
    lingerMs: OFF_PATH_LINGER_MS,
    claim: (events, tx) => ledger.record(events, tx),
    handleAll: (events, tx, emit) => workflow.onEvents(events, tx, emit),
    // A fan-out stored by this batch is emitted from now on, not at the emitter's next period.
    committed: (events) => {
      if (events.some((event) => event.type === 'act.step.fanned-out')) fanOuts.wake();
    },
  };
}
