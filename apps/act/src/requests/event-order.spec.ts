import type { HmsEvent } from '@hms/contracts';
import type { PendingEvent } from '@hms/platform';
import { createdFirst } from './event-order';

const pending = (type: string, requestId: string): PendingEvent => ({
  event: { id: `${type}:${requestId}`, type, requestId } as unknown as HmsEvent,
  json: '{}',
  traceHeaders: null,
});

describe('createdFirst', () => {
  it('puts every act.request.created first and keeps each request’s own events in order', () => {
    const events = [
      pending('act.request.created', 'a'),
      pending('act.step.ready', 'a'),
      pending('act.step.ready', 'a'),
      pending('act.request.created', 'b'),
      pending('act.step.skipped', 'b'),
      pending('act.request.completed', 'b'),
    ];
    expect(createdFirst(events).map((e) => e.event.id)).toEqual([
      'act.request.created:a',
      'act.request.created:b',
      'act.step.ready:a',
      'act.step.ready:a',
      'act.step.skipped:b',
      'act.request.completed:b',
    ]);
  });

  it('leaves events of one kind as they are', () => {
    const events = [pending('act.step.ready', 'a'), pending('act.step.ready', 'b')];
    expect(createdFirst(events)).toBe(events);
    expect(createdFirst([])).toEqual([]);
  });
});
