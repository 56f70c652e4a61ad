// Client IP addresses in one written form, whatever the socket or X-Forwarded-For gave: sessions, audit events,
// logs and rate-limit keys all see the same string for the same client.
import { isIPv6 } from 'node:net';
import { ipKeyGenerator } from 'express-rate-limit';
import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';

// Parsing an address is a large regular expression: every request asks again for the few addresses it sees.
const forms = new LRUCache<string, { canonical: string; key: string }>({ max: 10_000 });

/**
 * The canonical text of an IP address: an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, which a dual-stack
 * socket reports for every IPv4 client) as plain IPv4 (`127.0.0.1`), IPv6 compressed and lower-case
 * (`2001:db8::1`). Something that is not an address is returned as it is; no address at all gives null.
 */
export function canonicalIp(ip: string | null | undefined): string | null {
  if (ip === undefined || ip === null || ip === '') return null;
  return formsOf(ip).canonical;
}

/**
 * The key per-client counters and one-time codes are kept under: an IPv4 address as it is (IPv4-mapped folded to
 * IPv4), an IPv6 address by its /64 — the smallest block one subscriber line or host is given, so rotating
 * addresses inside it stays one client while two subscribers never share a key; `unknown` without an address.
 */
export function networkKey(ip: string | null | undefined): string {
  if (ip === undefined || ip === null || ip === '') return 'unknown';
  return formsOf(ip).key;
}

function formsOf(ip: string): { canonical: string; key: string } {
  let found = forms.get(ip);
  if (found === undefined) {
    let canonical: string;
    try {
      canonical = ipaddr.process(ip).toString();
    } catch {
      canonical = ip;
    }
    found = { canonical, key: isIPv6(canonical) ? ipKeyGenerator(canonical, 64) : canonical };
    forms.set(ip, found);
  }
  return found;
}

/**
 * The network an address belongs to, as a person reads it: IPv4 by its /24 (`203.0.113.0/24`), IPv6 by its /48
 * (`2001:db8:1::/48`), the size a home or office line is usually given; `unknown` without an address.
 */
export function networkPrefix(ip: string | null | undefined): string {
  const canonical = canonicalIp(ip);
  if (canonical === null) return 'unknown';
  try {
    const address = ipaddr.parse(canonical);
    const bits = address.kind() === 'ipv4' ? 24 : 48;
    const bytes = address.toByteArray().map((b, i) => (i * 8 >= bits ? 0 : b));
    return `${ipaddr.fromByteArray(bytes).toString()}/${bits}`;
  } catch {
    return 'unknown';
  }
}
