import { Injectable } from '@nestjs/common';
import type { RpcHandlers } from '@hms/platform';
import { AlertsService } from './alerts.service';

type AlertSubject = 'ops.alert.list' | 'ops.alert.acknowledge' | 'ops.alert.resolve';

@Injectable()
export class AlertsHandlers {
  constructor(private readonly alerts: AlertsService) {}

  handlers(): Pick<RpcHandlers<'ops'>, AlertSubject> {
    return {
      'ops.alert.list': (query, { maxPayload }) => this.alerts.list(query, maxPayload),
      'ops.alert.acknowledge': (command, { actor }) => this.alerts.acknowledge(command.id, actor),
      'ops.alert.resolve': (command, { actor }) => this.alerts.resolve(command.id, actor, command.reason),
    };
  }
}
