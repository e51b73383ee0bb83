import { RpcSubjects } from '@hms/contracts';
import { answeredBy, parkedEventHandlers, type RpcRoutes } from '@hms/platform';
import { LedgerHandlers } from './ledger/ledger.handlers';
import { PlansHandlers } from './plans/plans.handlers';
import { RequestsHandlers } from './requests/requests.handlers';

const parked = parkedEventHandlers('act');

/** The handler method of each ACT subject: exactly one each, or this does not compile. */
export const ACT_RPC_ROUTES: RpcRoutes<'act'> = {
  [RpcSubjects.planRegister]: answeredBy(PlansHandlers, 'planRegister'),
  [RpcSubjects.planGet]: answeredBy(PlansHandlers, 'planGet'),
  [RpcSubjects.planList]: answeredBy(PlansHandlers, 'planList'),
  [RpcSubjects.requestCreate]: answeredBy(RequestsHandlers, 'requestCreate'),
  [RpcSubjects.requestCreateMany]: answeredBy(RequestsHandlers, 'requestCreateMany'),
  [RpcSubjects.requestGet]: answeredBy(RequestsHandlers, 'requestGet'),
  [RpcSubjects.requestList]: answeredBy(RequestsHandlers, 'requestList'),
  [RpcSubjects.requestCancel]: answeredBy(RequestsHandlers, 'requestCancel'),
  [RpcSubjects.requestHistory]: answeredBy(LedgerHandlers, 'requestHistory'),
  [RpcSubjects.requestVerify]: answeredBy(LedgerHandlers, 'requestVerify'),
  ...parked.routes,
};
