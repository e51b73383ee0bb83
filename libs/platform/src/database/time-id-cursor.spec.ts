import { DomainError, isUuid } from '@hms/contracts';
import { decodeTimeIdCursor, encodeTimeIdCursor } from './time-id-cursor';

const id = '3f1c2a9e-8b7d-4c6e-9f01-23456789abcd';

describe(encodeTimeIdCursor.name, () => {
  it('round-trips through decodeTimeIdCursor to the millisecond', () => {
    const cursor = { at: new Date('2026-11-20T10:11:12.345Z'), id };
    expect(decodeTimeIdCursor(encodeTimeIdCursor(cursor))).toEqual(cursor);
  });

  it('is URL-safe and opaque', () => {
    const encoded = encodeTimeIdCursor({ at: new Date(), id });
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encoded).not.toContain(id);
  });
});

describe(decodeTimeIdCursor.name, () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it.each([
    ['not base64 JSON', '!!!'],
    ['plain text', Buffer.from('hello').toString('base64url')],
    ['an object', b64({ at: '2026-01-01T00:00:00Z', id })],
    ['a bad date', b64(['yesterday', id])],
    ['a bad id', b64(['2026-01-01T00:00:00Z', 'x; DROP TABLE tasks'])],
    ['too many parts', b64(['2026-01-01T00:00:00Z', id, 1])],
  ])('refuses %s with VALIDATION_FAILED on path cursor', (_label, value) => {
    let thrown: unknown;
    try {
      decodeTimeIdCursor(value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect((thrown as DomainError).code).toBe('VALIDATION_FAILED');
    expect((thrown as DomainError).details).toEqual([{ path: 'cursor', message: expect.any(String) }]);
  });
});

describe(isUuid.name, () => {
  it.each([
    [id, true],
    [id.toUpperCase(), true],
    ['not-a-uuid', false],
    [`${id}0`, false],
  ])('%s → %s', (value, expected) => {
    expect(isUuid(value)).toBe(expected);
  });
});
