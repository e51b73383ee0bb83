import { forbiddenAddress, forbiddenUrl, parseAllowList } from './webhook-destination';

describe('webhook destinations', () => {
  const none = parseAllowList(undefined);

  it.each([
    '169.254.169.254', // cloud metadata
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.5',
    '172.16.3.4',
    '172.31.255.255',
    '192.168.1.1',
    '100.100.100.200',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    'fc00::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::a9fe:a9fe',
  ])('refuses %s', (address) => {
    expect(forbiddenAddress(address, none)).toMatch(/private|reserved/);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700::6810:84e5', '::ffff:8.8.8.8'])('allows the public address %s', (address) => {
    expect(forbiddenAddress(address, none)).toBeNull();
  });

  it('allows a private address or network only when the allow-list names it', () => {
    const allowed = parseAllowList(' 127.0.0.1 , 10.1.0.0/16 ');
    expect(forbiddenAddress('127.0.0.1', allowed)).toBeNull();
    expect(forbiddenAddress('10.1.2.3', allowed)).toBeNull();
    expect(forbiddenAddress('10.2.0.1', allowed)).not.toBeNull();
    expect(forbiddenAddress('169.254.169.254', allowed)).not.toBeNull();
    expect(() => parseAllowList('localhost')).toThrow(/not an IP/);
  });

  it('takes https always, http only when allowed, and nothing else', () => {
    expect(forbiddenUrl(new URL('https://hooks.example/x'), false)).toBeNull();
    expect(forbiddenUrl(new URL('http://hooks.example/x'), false)).toMatch(/OPS_WEBHOOK_ALLOW_HTTP/);
    expect(forbiddenUrl(new URL('http://hooks.example/x'), true)).toBeNull();
    expect(forbiddenUrl(new URL('ftp://hooks.example/x'), true)).toMatch(/scheme/);
    expect(forbiddenUrl(new URL('file:///etc/passwd'), true)).toMatch(/scheme/);
  });
});
