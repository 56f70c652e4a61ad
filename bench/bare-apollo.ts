// The old baseline, kept as a reference row: a bare Apollo Server 5 on Express 5 with express.json (as Portcullis
// served before issue 13), answering `{ me { id email } }` with a constant after verifying the bearer JWT exactly
// as Portcullis's access tokens are checked (bare-jwt.ts), UNAUTHENTICATED otherwise. No database, no middleware.
// Express alone costs about half of standalone-apollo.ts's throughput. Env: PORT, JWT_SECRET (see bare-jwt.ts).
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import { bearerSubject } from './bare-jwt';

const typeDefs = `
  type User { id: ID! email: String! }
  type Query { me: User }
`;

interface Context {
  readonly authorization: string | undefined;
}

const ME = { id: '00000000-0000-4000-8000-000000000000', email: 'bare@bench.portcullis.invalid' };

function unauthenticated(): GraphQLError {
  return new GraphQLError('Not signed in', { extensions: { code: 'UNAUTHENTICATED' } });
}

const resolvers = {
  Query: {
    me: (_parent: unknown, _args: unknown, ctx: Context) => {
      if (bearerSubject(ctx.authorization) === null) throw unauthenticated();
      return ME;
    },
  },
};

async function main(): Promise<void> {
  const apollo = new ApolloServer<Context>({ typeDefs, resolvers });
  await apollo.start();
  const app = express();
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(
    '/graphql',
    express.json({ limit: '100kb' }),
    expressMiddleware(apollo, {
      context: async ({ req }) => ({ authorization: req.headers.authorization }),
    }),
  );
  const port = Number(process.env.PORT ?? 4100);
  app.listen(port, () => console.log(`bare apollo listening on http://localhost:${port}/graphql`));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
