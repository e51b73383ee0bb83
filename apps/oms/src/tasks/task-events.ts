import { Injectable } from '@nestjs/common';
import type { AnyHmsEvent } from '@hms/contracts';
import type { Emit, EventSubscription } from '@hms/platform';
import type { EntityManager } from 'typeorm';
import { TasksService } from './tasks.service';

const HANDLED = new Set<AnyHmsEvent['type']>(['act.step.ready', 'act.request.cancelled', 'act.request.rejected', 'act.request.failed']);
/**
 * Events per transaction of OMS's consumer of ACT's events: a run of step.ready costs the same
 * five round trips (BEGIN, claim, the queueing statement, the outbox insert, COMMIT) whether it
 * has 100 events or 1,000.
 */
const STEP_EVENTS_PER_TRANSACTION = 1000;
const ALERT_EVENTS_HANDLED = new Set<AnyHmsEvent['type']>(['ops.alert.escalated', 'ops.alert.resolved']);

/**
 * OMS's durable subscription to ACT's events. Single `filter_subject` (`act.>`), which NATS
 * 2.9 supports; the handler picks the types OMS acts on and acknowledges the rest.
 */
@Injectable()
export class TaskEvents {
  constructor(private readonly tasks: TasksService) {}

  subscription(): EventSubscription {
    const durable = 'oms';
    return {
      durable,
      filter: 'act.>',
      accepts: (type) => HANDLED.has(type),
      handle: (event, tx, emit) => this.handle(event, tx, emit),
      // A batch's step.ready run is queued set-based: a statement per run, not two per event.
      handleMany: { 'act.step.ready': (events, tx, emit) => this.tasks.queueFromSteps(events, tx, emit) },
      // A batch call's tasks (up to 1,000 per call) in a few transactions, not one per 100.
      maxEventsPerTransaction: STEP_EVENTS_PER_TRANSACTION,
      // A batch of step.ready (a lone one is what an idle worker waits for) queued in one round trip.
      handleAtOnce: (events) => this.tasks.queueStepsAtOnce(events, durable),
    };
  }

  /**
   * OMS's second durable subscription: OPS's alert events, for the tasks escalations queue in
   * an escalation pool (and cancel once their alert is resolved).
   */
  alertSubscription(): EventSubscription {
    return {
      durable: 'oms-alerts',
      filter: 'ops.alert.>',
      accepts: (type) => ALERT_EVENTS_HANDLED.has(type),
      handle: async (event, tx, emit) => {
        if (event.type === 'ops.alert.escalated') await this.tasks.queueEscalation(event, tx, emit);
        else if (event.type === 'ops.alert.resolved') await this.tasks.cancelEscalation(event, tx, emit);
      },
    };
  }

  private async handle(event: AnyHmsEvent, tx: EntityManager, emit: Emit): Promise<void> {
    // act.step.ready goes to handleMany.
    switch (event.type) {
      case 'act.request.cancelled':
      case 'act.request.rejected':
      case 'act.request.failed':
        return this.tasks.cancelRequest(event, tx, emit);
      default:
        return;
    }
  }
}
