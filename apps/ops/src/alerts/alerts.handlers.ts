import { AcknowledgeAlertCommand, ListAlertsQuery, ResolveAlertCommand, RpcSubjects } from '@hms/contracts';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { RpcController, type RpcCall } from '@hms/platform';
import { AlertsService } from './alerts.service';

@RpcController()
export class AlertsHandlers {
  constructor(private readonly alerts: AlertsService) {}

  @MessagePattern(RpcSubjects.alertList)
  alertList(@Payload() query: ListAlertsQuery, @Ctx() { maxPayload }: RpcCall) {
    return this.alerts.list(query, maxPayload);
  }

  @MessagePattern(RpcSubjects.alertAcknowledge)
  alertAcknowledge(@Payload() command: AcknowledgeAlertCommand, @Ctx() { actor }: RpcCall) {
    return this.alerts.acknowledge(command.id, actor);
  }

  @MessagePattern(RpcSubjects.alertResolve)
  alertResolve(@Payload() command: ResolveAlertCommand, @Ctx() { actor }: RpcCall) {
    return this.alerts.resolve(command.id, actor, command.reason);
  }
}
