// Apollo's authorization directives, declared in the schema and applied by one decorator, so that what
// schema.graphql shows is what graphql-shield enforces (shield.ts reads these directives back).
import {
  DirectiveLocation,
  GraphQLDirective,
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

export const AUTH_DIRECTIVES = [authenticatedDirective, requiresScopesDirective];

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

/** What a field's directives require: null when it has neither directive. */
export function requirementOf(
  field: GraphQLField<unknown, unknown>,
): { authenticated: boolean; scopes: string[][] } | null {
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
  return { authenticated, scopes };
}
