// The permission layer: graphql-shield, deny by default. The rule of each Query and Mutation field is
// derived from its @authenticated / @requiresScopes directives (directives.ts), or `allow` for the public
// operations; a field with neither is closed by the fallback rule.
import { allow, and, chain, deny, rule, shield, type IRules } from 'graphql-shield';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { middleware, type IMiddleware } from 'graphql-middleware';
import { ForbiddenError, StepUpRequiredError, UnauthenticatedError } from '../common/errors';
import { requirementOf, type AssuranceRequirement } from '../common/requires-scopes';
import type { GraphQLContext } from '../common/request-context';

/** The operations anyone may call, without a token. */
export const PUBLIC_OPERATIONS: ReadonlySet<string> = new Set([
  'Mutation.register',
  'Mutation.login',
  'Mutation.requestOtp',
  'Mutation.verifyOtp',
  'Mutation.resetPassword',
  'Mutation.refresh',
  'Mutation.logout',
  'Query.identityProviders',
  'Mutation.startSocialSignIn',
  'Mutation.completeSocialSignIn',
  'Mutation.signInWithIdToken',
  'Mutation.verifyMfa',
  'Mutation.startPasskeySignIn',
  'Mutation.finishPasskeySignIn',
]);

/** What the step-up rule needs beyond the token: the default age, the clock, and whether a user has MFA on. */
export interface AssurancePolicy {
  /** STEP_UP_MAX_AGE, for @requiresAssurance without maxAge. */
  readonly maxAge: number;
  readonly nowMs: () => number;
  readonly mfaEnabled: (ctx: GraphQLContext, userId: string) => Promise<boolean>;
}

/** A valid access token of a live session. Returns (not throws) the error so shield passes it on. */
export const isAuthenticated = rule({ cache: 'contextual' })(async (_parent, _args, ctx: GraphQLContext) => {
  try {
    await ctx.auth();
    return true;
  } catch (err) {
    return err as Error;
  }
});

const scopeRules = new Map<string, ReturnType<ReturnType<typeof rule>>>();

/** The caller holds every scope of at least one of `sets`. One rule per distinct requirement (shield wants names unique). */
export function hasScopes(sets: string[][]) {
  const name = `hasScopes:${JSON.stringify(sets)}`;
  let found = scopeRules.get(name);
  if (!found) {
    found = rule(name, { cache: 'contextual' })(async (_parent, _args, ctx: GraphQLContext) => {
      const { scopes } = await ctx.auth();
      return sets.some((set) => set.every((s) => scopes.includes(s))) ? true : new ForbiddenError(sets);
    });
    scopeRules.set(name, found);
  }
  return found;
}

// Per policy: each server (its own clock and settings) gets its own rules, even several servers in one process.
const assuranceRules = new WeakMap<AssurancePolicy, Map<string, ReturnType<ReturnType<typeof rule>>>>();

/**
 * A recent authentication: the token's auth_time within maxAge, and at level 2 also acr aal2 when the user has MFA
 * on (an account without MFA satisfies level 2 with a recent level 1). Else STEP_UP_REQUIRED.
 */
export function hasAssurance(need: AssuranceRequirement, policy: AssurancePolicy) {
  const maxAge = need.maxAge ?? policy.maxAge;
  const name = `hasAssurance:${need.level}:${maxAge}`;
  let rules = assuranceRules.get(policy);
  if (rules === undefined) assuranceRules.set(policy, (rules = new Map<string, ReturnType<ReturnType<typeof rule>>>()));
  let found = rules.get(name);
  if (!found) {
    found = rule(name, { cache: 'contextual' })(async (_parent, _args, ctx: GraphQLContext) => {
      const { claims, user } = await ctx.auth();
      const recent = Math.floor(policy.nowMs() / 1000) - claims.authTime <= maxAge; // auth_time is in whole seconds
      const levelMet = need.level < 2 || claims.acr === 'aal2' || !(await policy.mfaEnabled(ctx, user.id));
      return recent && levelMet ? true : new StepUpRequiredError(maxAge, need.level);
    });
    rules.set(name, found);
  }
  return found;
}

type Rule = typeof allow | typeof isAuthenticated | ReturnType<typeof and> | ReturnType<typeof chain>;

/**
 * The rule map for `schema`: root fields from their directives, every other object type open. `limits`
 * adds request limits (rate-limit/) to the fields it names, checked after the permission.
 */
export function ruleMap(
  schema: GraphQLSchema,
  limits: ReadonlyMap<string, Rule> = new Map(),
  assurance?: AssurancePolicy,
): IRules {
  const rules: Record<string, Record<string, Rule> | Rule> = {};
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    if (!root) continue;
    const fields: Record<string, Rule> = {};
    for (const field of Object.values(root.getFields())) {
      const key = `${root.name}.${field.name}`;
      const limit = limits.get(key);
      if (PUBLIC_OPERATIONS.has(key)) {
        fields[field.name] = limit ?? allow;
        continue;
      }
      const need = requirementOf(field);
      if (need === null) continue; // no rule: the fallback denies it
      if (need.assurance !== null && assurance === undefined) throw new Error(`${key} needs an AssurancePolicy`);
      const checks = [
        isAuthenticated,
        ...(need.scopes.length > 0 ? [hasScopes(need.scopes)] : []),
        ...(need.assurance !== null ? [hasAssurance(need.assurance, assurance!)] : []),
      ];
      const permission = checks.length === 1 ? checks[0]! : and(...checks);
      fields[field.name] = limit ? chain(permission, limit) : permission;
    }
    rules[root.name] = fields;
  }
  for (const type of Object.values(schema.getTypeMap())) {
    if (isObjectType(type) && !type.name.startsWith('__') && !(type.name in rules)) rules[type.name] = allow;
  }
  return rules;
}

/**
 * The shield middleware, applied to the root fields only: every other type's rule is `allow` and is
 * reachable only through a root field, so wrapping each of their fields would only cost time per resolved
 * field (a `me` answer has nine) and change nothing.
 */
export function permissions(schema: GraphQLSchema, limits?: ReadonlyMap<string, Rule>, assurance?: AssurancePolicy) {
  const all = shieldFor(schema, limits, assurance);
  return middleware((s: GraphQLSchema) => {
    const generated = all.generate(s) as Record<string, IMiddleware>;
    const roots = [s.getQueryType(), s.getMutationType()].flatMap((t) => (t ? [t.name] : []));
    return Object.fromEntries(
      roots.filter((name) => name in generated).map((name) => [name, generated[name]!]),
    ) as IMiddleware;
  });
}

function shieldFor(schema: GraphQLSchema, limits?: ReadonlyMap<string, Rule>, assurance?: AssurancePolicy) {
  return shield(ruleMap(schema, limits, assurance), {
    fallbackRule: deny,
    allowExternalErrors: true,
    // A field nobody ruled on: UNAUTHENTICATED without a valid token, else FORBIDDEN.
    fallbackError: async (_thrown, _parent, _args, ctx) => {
      try {
        await (ctx as unknown as GraphQLContext).auth();
      } catch {
        return new UnauthenticatedError();
      }
      return new ForbiddenError([]);
    },
  });
}
