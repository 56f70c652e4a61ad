// The networks (common/ip.ts keys) each account has signed in from, remembered at every successful sign-in.
// A network seen within KNOWN_NETWORK_DAYS is "known" to the account: one-time codes asked for or guessed
// from it have budgets of their own, never the pool that strangers share (otp.service.ts).
import type { EntityManager } from '@mikro-orm/postgresql';
import { KNOWN_FOR_DAYS } from '../../common/known-for';

export const KNOWN_NETWORK_DAYS = KNOWN_FOR_DAYS;
const DAY_MS = 86_400_000;

/** Records (or refreshes) `network` as known for `userId`, in the caller's transaction. */
export async function rememberNetwork(em: EntityManager, userId: string, network: string, now: Date): Promise<void> {
  if (network === 'unknown') return; // no address: nothing a later request could be matched with
  await em.execute(
    `insert into known_networks (user_id, network, last_seen_at) values (?, ?, ?)
     on conflict (user_id, network) do update set last_seen_at = greatest(known_networks.last_seen_at, excluded.last_seen_at)`,
    [userId, network, now],
  );
}

/** Whether the account of `email` signed in from `network` within the last KNOWN_NETWORK_DAYS (false: no account). */
export async function isKnownNetwork(em: EntityManager, email: string, network: string, now: Date): Promise<boolean> {
  const rows = await em.execute<Array<{ known: number }>>(
    `select 1 as known from known_networks k join users u on u.id = k.user_id
     where u.email = ? and k.network = ? and k.last_seen_at > ? limit 1`,
    [email, network, new Date(now.getTime() - KNOWN_NETWORK_DAYS * DAY_MS)],
  );
  return rows.length > 0;
}

/** Forgets every network of `userId` (its address was just proven: networks seen before may be a stranger's). */
export async function forgetNetworks(em: EntityManager, userId: string): Promise<void> {
  await em.execute('delete from known_networks where user_id = ?', [userId]);
}
