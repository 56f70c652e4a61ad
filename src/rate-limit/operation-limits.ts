// Per-operation limits as graphql-shield rules, each one atomic counter per key and window in the limit store.
// They run once per resolved field, so aliases each count; they key on the normalized email, so case does not
// evade them, and on the client's network (common/ip.ts), so rotating addresses inside one IPv6 prefix does not.
import { chain, rule } from 'graphql-shield';
import { RateLimitedError } from '../common/errors';
import { networkKey } from '../common/ip';
import type { LimitRule } from '../config/limits';
import { emailKeyPrefix, type LimitStore } from './store';
import type { GraphQLContext } from '../common/request-context';
import { normalizeEmail } from '../common/email';

/** The counter key of one limit for one request: `limit:{email}:name[:network]`, or `limit:name:network`. */
export function limitKey(limit: LimitRule, args: Record<string, unknown>, ip: string | null): string {
  const email = typeof args.email === 'string' ? limitEmail(args.email) : '';
  switch (limit.by) {
    case 'ip':
      return `limit:${limit.name}:${networkKey(ip)}`;
    case 'email':
      return `${emailKeyPrefix(email)}${limit.name}`;
    case 'ip+email':
      return `${emailKeyPrefix(email)}${limit.name}:${networkKey(ip)}`;
  }
}

/** The email as the flows store it (case, IDN spellings folded); one the resolver will refuse is counted as typed. */
function limitEmail(raw: string): string {
  try {
    return normalizeEmail(raw);
  } catch {
    return raw.trim().toLowerCase();
  }
}

function limitRule(limit: LimitRule, store: LimitStore, onLimited: (name: string) => void) {
  return rule(`limit:${limit.name}`, { cache: 'no_cache' })(
    async (_parent, args: Record<string, unknown>, ctx: GraphQLContext) => {
      // A refused hit is not counted, so retrying while limited does not push the window further.
      const hit = await store.hit(limitKey(limit, args, ctx.client.ip), limit.windowMs, limit.max);
      if (hit.allowed) return true;
      onLimited(limit.name);
      return new RateLimitedError(hit.resetMs / 1000);
    },
  );
}

/** `Mutation.<operation>` → the rule enforcing every limit of that operation, in table order. */
export function operationLimitRules(
  rules: readonly LimitRule[],
  store: LimitStore,
  onLimited: (name: string) => void = () => {},
): Map<string, ReturnType<typeof chain> | ReturnType<typeof limitRule>> {
  const byOperation = new Map<string, ReturnType<typeof limitRule>[]>();
  for (const limit of rules) {
    const key = `Mutation.${limit.operation}`;
    byOperation.set(key, [...(byOperation.get(key) ?? []), limitRule(limit, store, onLimited)]);
  }
  return new Map([...byOperation].map(([key, list]) => [key, list.length === 1 ? list[0]! : chain(...list)]));
}
