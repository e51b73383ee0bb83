import { NotFoundException } from '@nestjs/common';
import { errorCodes } from 'fastify';
import { DomainError } from '@hms/contracts';
import { errorAnswer } from './api-error.filter';
import { parseJsonBody } from './configure-http';

describe('errorAnswer', () => {
  it("answers Fastify's refusals before a route runs with the API's codes and no parser internals", () => {
    expect(errorAnswer(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())).toEqual({
      status: 413,
      error: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is too large' },
      internal: false,
    });
    expect(errorAnswer(new errorCodes.FST_ERR_BAD_URL('/v1/plans/%ED%A0%80'))).toEqual({
      status: 400,
      error: { code: 'VALIDATION_FAILED', message: 'The request path is not valid percent-encoded UTF-8' },
      internal: false,
    });
    expect(errorAnswer(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())).toMatchObject({ status: 400, error: { code: 'VALIDATION_FAILED' } });
  });

  it('keeps a domain error, maps a framework HttpException, and hides anything else (a Fastify 500 too) as INTERNAL', () => {
    expect(errorAnswer(new DomainError('CONFLICT', 'taken', [{ path: 'id', message: 'exists' }]))).toEqual({
      status: 409,
      error: { code: 'CONFLICT', message: 'taken', details: [{ path: 'id', message: 'exists' }] },
      internal: false,
    });
    expect(errorAnswer(new NotFoundException('Cannot GET /nope'))).toMatchObject({ status: 404, error: { code: 'NOT_FOUND' } });
    expect(errorAnswer(new errorCodes.FST_ERR_SEND_UNDEFINED_ERR())).toEqual({ status: 500, error: { code: 'INTERNAL', message: 'Internal error' }, internal: true });
    expect(errorAnswer(new Error('secret detail'))).toMatchObject({ status: 500, internal: true });
  });
});

describe('parseJsonBody', () => {
  const parse = (text: string) => parseJsonBody(Buffer.from(text));

  it('reads an empty body as no fields, and objects and arrays as JSON.parse does (`__proto__` an ordinary key)', () => {
    expect(parse('')).toEqual({});
    expect(parse(' \n{"a":[1,{"b":null}]}')).toEqual({ a: [1, { b: null }] });
    expect(parse('[1]')).toEqual([1]);
    const withProto = parse('{"__proto__":{"admin":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(withProto)).toBe(Object.prototype);
    expect(Object.keys(withProto)).toEqual(['__proto__']);
  });

  it.each(['"text"', 'null', '1', '   ', '{"plan": "x",', '{"a":1}x'])('refuses %j as not valid JSON (400)', (text) => {
    expect(() => parse(text)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', message: 'The request body is not valid JSON' }));
  });
});
