// Per-operation limits as graphql-shield rules built on graphql-rate-limit's limiter. They run once per
// resolved field, so aliases each count, and they key on the normalized email, so case does not evade them.
import { getFieldIdentity, getGraphQLRateLimiter, type Store } from 'graphql-rate-limit';
import { chain, rule } from 'graphql-shield';
import { RateLimitedError } from '../common/errors';
import type { GraphQLContext } from '../server/context';
import type { LimitRule } from './limits';

function limitRule(limit: LimitRule, store: Store, onLimited: (name: string) => void) {
  const identityArgs = limit.by === 'ip' ? [] : ['email'];
  const contextIdentity = (ctx: GraphQLContext): string =>
    `${limit.name}:${limit.by === 'email' ? '*' : (ctx.client.ip ?? 'unknown')}`;
  const limiter = getGraphQLRateLimiter({ store, identifyContext: contextIdentity });
  return rule(`limit:${limit.name}`, { cache: 'no_cache' })(async (parent, rawArgs: Record<string, unknown>, ctx: GraphQLContext, info) => {
    const args = typeof rawArgs.email === 'string' ? { ...rawArgs, email: rawArgs.email.trim().toLowerCase() } : rawArgs;
    const refused = await limiter(
      { parent, args, context: ctx, info },
      { identityArgs, max: limit.max, window: `${limit.windowMs}ms`, uncountRejected: true },
    );
    if (refused === undefined) return true;
    onLimited(limit.name);
    const counted = await store.getForIdentity({
      contextIdentity: contextIdentity(ctx),
      fieldIdentity: getFieldIdentity(info.fieldName, identityArgs, args),
    });
    const oldest = counted.length > 0 ? Math.min(...counted) : Date.now();
    return new RateLimitedError((oldest + limit.windowMs - Date.now()) / 1000);
  });
}

/** `Mutation.<operation>` → the rule enforcing every limit of that operation, in table order. */
export function operationLimitRules(
  rules: readonly LimitRule[],
  store: Store,
  onLimited: (name: string) => void = () => {},
): Map<string, ReturnType<typeof chain> | ReturnType<typeof limitRule>> {
  const byOperation = new Map<string, ReturnType<typeof limitRule>[]>();
  for (const limit of rules) {
    const key = `Mutation.${limit.operation}`;
    byOperation.set(key, [...(byOperation.get(key) ?? []), limitRule(limit, store, onLimited)]);
  }
  return new Map([...byOperation].map(([key, list]) => [key, list.length === 1 ? list[0]! : chain(...list)]));
}
