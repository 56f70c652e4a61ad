// Issue 13's baselines: Apollo Server 5's own `startStandaloneServer` (node:http, no Express) answering
// `{ me { id email } }` after the bearer JWT is verified in `context` as Portcullis verifies its access tokens.
// Without DATABASE_URL the answer is a constant; with it, this is the "naive peer": one prepared-statement
// lookup of the user per request through a pg.Pool of Portcullis's default size. UNAUTHENTICATED otherwise.
// Env: PORT, JWT_SECRET (see bare-jwt.ts), DATABASE_URL.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { GraphQLError } from 'graphql';
import { Pool } from 'pg';
import { bearerSubject } from './bare-jwt';

const typeDefs = `
  type User { id: ID! email: String! }
  type Query { me: User }
`;

interface Context {
  readonly userId: string | null;
}

interface User {
  readonly id: string;
  readonly email: string;
}

const ME: User = { id: '00000000-0000-4000-8000-000000000000', email: 'bare@bench.portcullis.invalid' };
const databaseUrl = process.env.DATABASE_URL;
// DATABASE_POOL_SIZE's default in Portcullis's config.
const pool = databaseUrl ? new Pool({ connectionString: databaseUrl, max: 10 }) : null;

function unauthenticated(): GraphQLError {
  return new GraphQLError('Not signed in', { extensions: { code: 'UNAUTHENTICATED' } });
}

async function lookUp(db: Pool, id: string): Promise<User> {
  const { rows } = await db.query<User>({
    name: 'bench-me',
    text: 'select id, email from users where id = $1',
    values: [id],
  });
  if (!rows[0]) throw unauthenticated();
  return rows[0];
}

const resolvers = {
  Query: {
    me: (_parent: unknown, _args: unknown, ctx: Context): User | Promise<User> => {
      if (ctx.userId === null) throw unauthenticated();
      return pool ? lookUp(pool, ctx.userId) : ME;
    },
  },
};

async function main(): Promise<void> {
  const apollo = new ApolloServer<Context>({ typeDefs, resolvers });
  const { url } = await startStandaloneServer(apollo, {
    listen: { port: Number(process.env.PORT ?? 4100), host: '127.0.0.1' },
    context: async ({ req }) => ({ userId: bearerSubject(req.headers.authorization) }),
  });
  console.log(`standalone apollo${pool ? ' + pg' : ''} listening on ${url}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
