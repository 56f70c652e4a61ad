// Apollo's authorization directives, declared in the schema and applied by one decorator, so that what
// schema.graphql shows is what graphql-shield enforces (shield.ts reads these directives back).
import {
  DirectiveLocation,
  GraphQLDirective,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
  Kind,
  type GraphQLField,
} from 'graphql';
import { Directive } from 'type-graphql';
import type { Scope } from './roles';

const LOCATIONS = [
  DirectiveLocation.FIELD_DEFINITION,
  DirectiveLocation.OBJECT,
  DirectiveLocation.INTERFACE,
  DirectiveLocation.SCALAR,
  DirectiveLocation.ENUM,
];

export const authenticatedDirective = new GraphQLDirective({
  name: 'authenticated',
  description: 'Requires a valid access token of a live session.',
  locations: LOCATIONS,
});

export const requiresScopesDirective = new GraphQLDirective({
  name: 'requiresScopes',
  description: 'Requires every scope of at least one of the listed sets.',
  locations: LOCATIONS,
  args: {
    scopes: {
      type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))))),
    },
  },
});

export const requiresAssuranceDirective = new GraphQLDirective({
  name: 'requiresAssurance',
  description:
    'Requires a recent authentication: auth_time within maxAge seconds (default STEP_UP_MAX_AGE), and at level 2 ' +
    'also acr aal2 when the user has MFA on. Otherwise STEP_UP_REQUIRED: call reauthenticate.',
  locations: LOCATIONS,
  args: { maxAge: { type: GraphQLInt }, level: { type: GraphQLInt } },
});

export const AUTH_DIRECTIVES = [authenticatedDirective, requiresScopesDirective, requiresAssuranceDirective];

/**
 * Marks a field as needing a recent authentication (docs/contract.md, "Second factors, assurance, step-up"), at
 * `level` 1 or 2; `maxAge` seconds, or STEP_UP_MAX_AGE when omitted. Use with RequiresScopes.
 */
export function RequiresAssurance(level: 1 | 2, maxAge?: number): MethodDecorator {
  const args = [`level: ${level}`, ...(maxAge === undefined ? [] : [`maxAge: ${maxAge}`])];
  return Directive(`@requiresAssurance(${args.join(', ')})`);
}

/** Marks a Query or Mutation field as needing a signed-in caller holding every one of `scopes`. */
export function RequiresScopes(...scopes: Scope[]): MethodDecorator {
  const authenticated = Directive('@authenticated');
  const required = Directive(`@requiresScopes(scopes: [${JSON.stringify(scopes)}])`);
  return (target, key, descriptor) => {
    // type-graphql prints directives in reverse order of application.
    required(target, key, descriptor);
    authenticated(target, key, descriptor);
  };
}

/** A step-up requirement: `maxAge` null means STEP_UP_MAX_AGE. */
export interface AssuranceRequirement {
  readonly level: number;
  readonly maxAge: number | null;
}

/** What a field's directives require: null when it has neither @authenticated nor @requiresScopes. */
export function requirementOf(
  field: GraphQLField<unknown, unknown>,
): { authenticated: boolean; scopes: string[][]; assurance: AssuranceRequirement | null } | null {
  const directives = field.astNode?.directives ?? [];
  const authenticated = directives.some((d) => d.name.value === authenticatedDirective.name);
  const scopesNode = directives
    .find((d) => d.name.value === requiresScopesDirective.name)
    ?.arguments?.find((a) => a.name.value === 'scopes')?.value;
  let scopes: string[][] = [];
  if (scopesNode?.kind === Kind.LIST) {
    scopes = scopesNode.values.map((set) =>
      set.kind === Kind.LIST ? set.values.map((s) => (s.kind === Kind.STRING ? s.value : '')) : [],
    );
  }
  if (!authenticated && scopes.length === 0) return null;
  const assuranceNode = directives.find((d) => d.name.value === requiresAssuranceDirective.name);
  const intArg = (name: string): number | null => {
    const value = assuranceNode?.arguments?.find((a) => a.name.value === name)?.value;
    return value?.kind === Kind.INT ? Number(value.value) : null;
  };
  const assurance = assuranceNode ? { level: intArg('level') ?? 1, maxAge: intArg('maxAge') } : null;
  return { authenticated, scopes, assurance };
}
