import { isUuid } from '@hms/contracts';
import { uuidV7Generator } from './ids';

describe('isUuid', () => {
  it.each([
    ['8d0f3c52-6a4e-4a53-9d0e-2c1c7f1b2a10', true],
    ['8D0F3C52-6A4E-4A53-9D0E-2C1C7F1B2A10', true],
    ['8d0f3c52-6a4e-4a53-9d0e-2c1c7f1b2a1', false],
    ['not-a-uuid', false],
    ["'; DROP TABLE act.requests; --", false],
    [42, false],
    [null, false],
  ])('%j → %s', (value, expected) => {
    expect(isUuid(value)).toBe(expected);
  });
});

describe('uuidV7Generator', () => {
  it('makes version 7, RFC 9562 variant uuids carrying the millisecond time', () => {
    const id = uuidV7Generator(() => 0x0191_2345_6789).next();
    expect(isUuid(id)).toBe(true);
    expect(id.slice(0, 13)).toBe('01912345-6789');
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
  });

  it('sorts in creation order within one millisecond and across them', () => {
    const ms = 1_800_000_000_000;
    const ticks = [0, 0, 0, 1, 1, 0, 2];
    let call = 0;
    const generator = uuidV7Generator(() => ms + ticks[Math.min(call++, ticks.length - 1)]);
    const ids = Array.from({ length: 5000 }, () => generator.next());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stays ordered when the clock steps back', () => {
    const times = [2000, 1000, 1000, 3000];
    const generator = uuidV7Generator(() => times.shift()!);
    const ids = [generator.next(), generator.next(), generator.next(), generator.next()];
    expect([...ids].sort()).toEqual(ids);
  });
});
