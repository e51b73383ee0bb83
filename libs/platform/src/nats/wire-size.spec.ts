import { headers as natsHeaders } from '@nats-io/transport-node';
import { DomainError } from '@hms/contracts';
import { assertRoomFor, DERIVED_MESSAGE_RESERVE_BYTES, encodedHeaderBytes, fitsIn } from './wire-size';

describe(fitsIn.name, () => {
  it.each([
    ['short ASCII, far below', 'abc', 0, 100, true],
    ['ASCII exactly at the limit', 'x'.repeat(100), 0, 100, true],
    ['ASCII one over', 'x'.repeat(101), 0, 100, false],
    ['extra bytes counted', 'x'.repeat(90), 11, 100, false],
    ['multi-byte characters measured as UTF-8', 'é'.repeat(50), 0, 100, true],
    ['multi-byte characters one over', 'é'.repeat(50) + 'x', 0, 100, false],
    ['four-byte characters', '😀'.repeat(25), 0, 100, true],
  ])('%s', (_, text, extra, max, fits) => {
    expect(fitsIn(text, extra, max)).toBe(fits);
  });
});

describe(encodedHeaderBytes.name, () => {
  it('counts headers as the NATS client encodes them', () => {
    const headers = natsHeaders();
    headers.set('Nats-Msg-Id', 'abc');
    headers.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(encodedHeaderBytes(headers)).toBe((headers as unknown as { encode(): Uint8Array }).encode().length);
  });
});

describe(assertRoomFor.name, () => {
  const maxPayload = 64 * 1024;
  const room = maxPayload - DERIVED_MESSAGE_RESERVE_BYTES;

  it('lets through a value that leaves the reserve, without measuring a small request', () => {
    expect(() => assertRoomFor({ blob: 'x'.repeat(room - 20) }, { requestBytes: room, maxPayload }, 'The payload', 'payload')).not.toThrow();
    expect(() => assertRoomFor({ n: 1 }, { requestBytes: 20, maxPayload }, 'The payload', 'payload')).not.toThrow();
  });

  it('refuses a value that would not leave the reserve, with PAYLOAD_TOO_LARGE at its path', () => {
    const call = () => assertRoomFor({ blob: 'x'.repeat(room) }, { requestBytes: room + 20, maxPayload }, 'The payload', 'payload');
    expect(call).toThrow(DomainError);
    expect(call).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE', details: [expect.objectContaining({ path: 'payload' })] }));
  });

  it('measures a request small as sent that grows when written again (short numbers come back long)', () => {
    const numbers = Array.from({ length: 2_400 }, () => 1e20); // "1e20" sent, 21 digits written
    expect(() => assertRoomFor(numbers, { requestBytes: 2_400 * 5, maxPayload }, 'The payload', 'payload')).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }));
  });
});
