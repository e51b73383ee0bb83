import { EventDeliveryLimits } from '@hms/contracts';
import { describeError, isParkingEvent, storableText } from './parked-events';

describe('storableText', () => {
  it.each([
    ['plain', 10, 'plain'],
    ['a\u0000b', 10, 'a\uFFFDb'],
    ['abcdefghij', 10, 'abcdefghij'],
    ['abcdefghijk', 10, 'abcdefghi…'],
    ['', 10, ''],
    ['lone \ud800 high', 20, 'lone \uFFFD high'],
    ['lone \udc00 low', 20, 'lone \uFFFD low'],
    ['pair \ud83d\ude00 kept', 20, 'pair \ud83d\ude00 kept'],
    ['abcdefgh\ud83d\ude00xyz', 10, 'abcdefgh…'],
  ])('makes %j fit a text column of %i characters', (value, max, expected) => {
    expect(storableText(value, max)).toBe(expected);
  });
});

describe('describeError', () => {
  it.each([
    [new Error('boom'), 'boom'],
    [new TypeError('x is undefined'), 'TypeError: x is undefined'],
    ['a string', 'a string'],
    [undefined, 'undefined'],
    [new Error(''), 'unknown error'],
  ])('keeps %p as %j', (error, expected) => {
    expect(describeError(error)).toBe(expected);
  });

  it('bounds a huge message and removes NULs', () => {
    const text = describeError(new Error(`\u0000${'x'.repeat(10_000)}`));
    expect(text).toHaveLength(EventDeliveryLimits.lastErrorChars);
    expect(text.startsWith('\uFFFDx')).toBe(true);
  });
});

describe('isParkingEvent', () => {
  it.each([
    ['platform.event.parked', true],
    ['platform.event.replayed', true],
    ['oms.task.queued', false],
    [undefined, false],
    [42, false],
  ])('%p → %p', (type, expected) => {
    expect(isParkingEvent(type)).toBe(expected);
  });
});
