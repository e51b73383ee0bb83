import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import helmet from 'helmet';
import { SECURITY_HEADERS } from './configure-http';

const response = () => new ServerResponse(new IncomingMessage(new Socket()));

describe('SECURITY_HEADERS', () => {
  it('are the headers helmet sets, with the same values, in the same order', () => {
    const byHelmet = response();
    let called = false;
    helmet()(byHelmet.req, byHelmet, () => {
      called = true;
    });
    expect(called).toBe(true);
    const byList = response();
    for (const [name, value] of SECURITY_HEADERS) byList.setHeader(name, value);
    expect(byList.getHeaderNames()).toEqual(byHelmet.getHeaderNames());
    expect(byList.getHeaders()).toEqual(byHelmet.getHeaders());
    expect(byList.getHeader('content-security-policy')).toContain("default-src 'self'");
  });
});
