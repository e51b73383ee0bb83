import { BlockList, isIP } from 'node:net';

/**
 * Where an escalation webhook may be posted. A pool's webhook is set by a manager but posted by
 * OPS from inside the network, so without these rules it is a way to make OPS call the cloud
 * metadata service, the database or an admin port (SSRF). Checked on the addresses the name
 * resolves to, on every delivery (a name may point elsewhere tomorrow), and the connection is
 * then made to the checked address (so a second, different DNS answer cannot be slipped in).
 */
const FORBIDDEN = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (and Alibaba's metadata, 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, with the AWS/GCP/Azure metadata service 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and broadcast
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64: reaches IPv4 addresses, private ones included
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (with AWS's metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv6');
}

/** Node's BlockList reads an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) against the IPv4 rules. */
function listed(list: BlockList, address: string): boolean {
  return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Addresses and networks allowed despite the rules (`OPS_WEBHOOK_ALLOW_PRIVATE`, e.g.
 * `127.0.0.1,10.1.0.0/16`): a test's local receiver, or an alerting relay inside the network.
 */
export function parseAllowList(setting: string | undefined): BlockList {
  const list = new BlockList();
  for (const entry of (setting ?? '').split(',').map((item) => item.trim()).filter(Boolean)) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address!);
    if (family === 0) throw new Error(`OPS_WEBHOOK_ALLOW_PRIVATE: '${entry}' is not an IP address or network`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(prefix), type);
  }
  return list;
}

/** Why OPS may not post to `address`, or null when it may. */
export function forbiddenAddress(address: string, allowed: BlockList): string | null {
  if (isIP(address) === 0) return 'not an IP address';
  if (listed(allowed, address)) return null;
  return listed(FORBIDDEN, address) ? 'a private, loopback, link-local or reserved address' : null;
}

/** Why OPS may not post to `url` at all (before resolving it), or null. */
export function forbiddenUrl(url: URL, allowHttp: boolean): string | null {
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') return allowHttp ? null : 'plain http (set OPS_WEBHOOK_ALLOW_HTTP=1 to allow it)';
  return `the scheme ${url.protocol}`;
}
