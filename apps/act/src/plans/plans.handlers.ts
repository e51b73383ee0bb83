import { Injectable } from '@nestjs/common';
import type { RpcHandlers } from '@hms/platform';
import { planSourceOf } from './plan-source';
import { PlansService } from './plans.service';

type PlanHandlers = Pick<RpcHandlers<'act'>, 'act.plan.register' | 'act.plan.get' | 'act.plan.list'>;

/** NATS adapters of the plan use cases. */
@Injectable()
export class PlansHandlers {
  constructor(private readonly plans: PlansService) {}

  handlers(): PlanHandlers {
    return {
      'act.plan.register': (command, { actor }) => this.plans.register(planSourceOf(command), actor.id),
      'act.plan.get': (query) => this.plans.get(query.id, query.version),
      'act.plan.list': async () => ({ items: await this.plans.list() }),
    };
  }
}
