// A resource server behind Portcullis: an Apollo Server 5 API with a schema of its own, whose fields say in the SDL
// which scopes they need (`@requiresScopes`, as in an Apollo Federation subgraph). The SDL is the one source of
// truth: the resolvers are attached and the directive enforced by one pass over the built schema (mapSchema).
//
//   PORTCULLIS_URL=https://auth.example.com INTROSPECTION_KEY=pcl_… npx ts-node examples/resource-server/server.ts
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import { buildSchema, GraphQLError, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { createVerifier, InvalidTokenError, type VerifiedCaller, type Verify } from './verify';

export const typeDefs = /* GraphQL */ `
  "Requires every scope of at least one of the listed sets (Apollo Federation's directive, enforced by this server)."
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT

  "Who is calling, as verified."
  type Caller {
    sub: String!
    scopes: [String!]!
    acr: String!
    "jwt (checked locally against the JWKS) or introspection (an API key, asked of Portcullis)"
    via: String!
  }

  type Query {
    "Anyone, signed in or not."
    publicNote: String
    "The caller's own notes."
    myNotes: [String!]! @requiresScopes(scopes: [["self:read"]])
    "Staff only: support and admins hold users:read."
    adminReport: String @requiresScopes(scopes: [["users:read"]])
    caller: Caller @requiresScopes(scopes: [["self:read"]])
  }
`;

export interface Context {
  /** The verified caller; null without an Authorization header; UNAUTHENTICATED for a bad credential. */
  caller(): Promise<VerifiedCaller | null>;
}

type Resolvers = Record<string, Record<string, GraphQLFieldResolver<unknown, Context>>>;

const resolvers: Resolvers = {
  Query: {
    publicNote: () => 'Notes are private; this one is not.',
    myNotes: async (_source, _args, ctx) => {
      const { sub } = (await ctx.caller())!; // @requiresScopes ran first: there is a caller
      return [`${sub}: buy milk`, `${sub}: rotate the keys`];
    },
    adminReport: () => 'All quiet.',
    caller: async (_source, _args, ctx) => ctx.caller(),
  },
};

/** The `scopes` argument of `@requiresScopes` on a field or type: sets of scopes, any one of which suffices. */
function requiredScopes(schema: GraphQLSchema, node: Parameters<typeof getDirective>[1]): string[][] | null {
  const applied = getDirective(schema, node, 'requiresScopes')?.[0];
  return applied === undefined ? null : (applied.scopes as string[][]);
}

/**
 * The executable schema: `resolvers` attached, and every field whose definition or type carries `@requiresScopes`
 * wrapped: no caller → UNAUTHENTICATED, a caller without one of the scope sets → FORBIDDEN, before the resolver runs.
 */
export function buildResourceSchema(sdl = typeDefs, fieldResolvers = resolvers): GraphQLSchema {
  const schema = buildSchema(sdl);
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => {
      const resolve = fieldResolvers[typeName]?.[fieldName] ?? field.resolve;
      const type = schema.getType(typeName);
      // Both apply when both are there: the type's requirement and the field's.
      const requirements = [
        isObjectType(type) ? requiredScopes(schema, type) : null,
        requiredScopes(schema, field),
      ].filter((r): r is string[][] => r !== null);
      if (requirements.length === 0) return { ...field, resolve };
      const guarded: GraphQLFieldResolver<unknown, Context> = async (source, args, ctx, info) => {
        const caller = await ctx.caller();
        if (caller === null) {
          throw new GraphQLError('Sign in first: send Authorization: Bearer <token>', {
            extensions: { code: 'UNAUTHENTICATED' },
          });
        }
        const held = new Set(caller.scopes);
        if (!requirements.every((anyOf) => anyOf.some((allOf) => allOf.every((s) => held.has(s))))) {
          throw new GraphQLError(`Missing scope: needs ${JSON.stringify(requirements)}`, {
            extensions: { code: 'FORBIDDEN' },
          });
        }
        return resolve === undefined
          ? (source as Record<string, unknown>)[fieldName]
          : resolve(source, args, ctx, info);
      };
      return { ...field, resolve: guarded };
    },
  });
}

/** One request's context: the Authorization header, verified once, and only if a field asks for the caller. */
export function contextFor(verify: Verify, authorization: string | undefined): Context {
  let verified: Promise<VerifiedCaller | null> | undefined;
  return {
    caller() {
      verified ??=
        authorization === undefined
          ? Promise.resolve(null)
          : verify(authorization).catch((err: unknown) => {
              if (!(err instanceof InvalidTokenError)) throw err; // Portcullis or the network failed: a 5xx error
              throw new GraphQLError('Invalid or expired credential', {
                extensions: { code: 'UNAUTHENTICATED' },
              });
            });
      return verified;
    },
  };
}

export interface ResourceServer {
  /** http://localhost:PORT/ */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the API on `port` (0: any free port). */
export async function startResourceServer(verify: Verify, port = 0): Promise<ResourceServer> {
  const server = new ApolloServer<Context>({ schema: buildResourceSchema() });
  const { url } = await startStandaloneServer(server, {
    listen: { port },
    context: async ({ req }) => contextFor(verify, req.headers.authorization),
  });
  return { url, stop: () => server.stop() };
}

if (require.main === module) {
  const portcullis = process.env.PORTCULLIS_URL ?? 'http://localhost:4000';
  const verify = createVerifier({
    issuer: process.env.JWT_ISSUER ?? 'portcullis',
    audience: process.env.JWT_AUDIENCE ?? 'portcullis',
    jwksUrl: `${portcullis}/.well-known/jwks.json`,
    introspectionUrl: `${portcullis}/oauth/introspect`,
    introspectionKey: process.env.INTROSPECTION_KEY,
  });
  startResourceServer(verify, Number(process.env.PORT ?? 4001)).then(
    ({ url }) => console.log(`resource server at ${url}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
