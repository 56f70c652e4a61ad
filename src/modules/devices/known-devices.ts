// "Device", as the new-sign-in notice means it: the browser family and OS family named by the User-Agent
// (ua-parser-js; versions ignored, so updates do not make a device new) and the network prefix of the address
// (IPv4 /24, IPv6 /48; common/ip.ts). Coarse on purpose: it tells a person's usual browser at home or work from a
// stranger's, without fingerprinting anyone. Remembered per account at every session opened; a device not seen in
// KNOWN_DEVICE_DAYS counts as new again. docs/account.md explains the definition and its trade-offs.
import type { EntityManager } from '@mikro-orm/postgresql';
import { UAParser } from 'ua-parser-js';
import { networkPrefix } from '../../common/ip';
import { KNOWN_FOR_DAYS } from '../../common/known-for';
import type { ClientInfo } from '../../common/request-context';

export const KNOWN_DEVICE_DAYS = KNOWN_FOR_DAYS;
const DAY_MS = 86_400_000;

export interface Device {
  readonly browser: string;
  readonly os: string;
  /** `203.0.113.0/24`, `2001:db8:1::/48`, or `unknown` without an address. */
  readonly network: string;
}

export function deviceOf(client: ClientInfo): Device {
  const ua = client.userAgent ? new UAParser(client.userAgent).getResult() : null;
  return {
    browser: ua?.browser.name || 'Unknown browser',
    os: ua?.os.name || 'unknown system',
    network: networkPrefix(client.ip),
  };
}

/** How a person recognises the device in an email: `Firefox on Windows`. */
export function describeDevice(device: Device): string {
  return `${device.browser} on ${device.os}`;
}

/**
 * Remembers `device` for `userId` in the caller's transaction and says whether it is new: not seen within
 * KNOWN_DEVICE_DAYS while the account has some device remembered (an account's first sign-in is not news).
 * Under a per-account lock, so two sign-ins from one new device at once notice it once.
 */
export async function rememberDevice(em: EntityManager, userId: string, device: Device, now: Date): Promise<boolean> {
  await em.execute('select pg_advisory_xact_lock(hashtext(?))', [`device:${userId}`]);
  const seen = await em.execute<Array<{ same: boolean; last_seen_at: Date }>>(
    `select browser = ? and os = ? and network = ? as same, last_seen_at from known_devices where user_id = ?`,
    [device.browser, device.os, device.network, userId],
  );
  await em.execute(
    `insert into known_devices (user_id, browser, os, network, first_seen_at, last_seen_at) values (?, ?, ?, ?, ?, ?)
     on conflict (user_id, browser, os, network)
     do update set last_seen_at = greatest(known_devices.last_seen_at, excluded.last_seen_at)`,
    [userId, device.browser, device.os, device.network, now, now],
  );
  const since = now.getTime() - KNOWN_DEVICE_DAYS * DAY_MS;
  const known = seen.some((d) => d.same && new Date(d.last_seen_at).getTime() > since);
  return seen.length > 0 && !known;
}

/** Forgets every device of `userId` (its address was just proven: devices seen before may be a stranger's). */
export async function forgetDevices(em: EntityManager, userId: string): Promise<void> {
  await em.execute('delete from known_devices where user_id = ?', [userId]);
}
