// The baseline: a bare Apollo Server 5 on Express 5 with express.json (as Portcullis serves), answering
// `{ me { id email } }` with a constant after verifying the bearer JWT exactly as Portcullis's access tokens
// are checked (HS256 KeyObject, iss, aud, exp, typ), UNAUTHENTICATED otherwise. No database, no middleware.
// Env: PORT, JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE (the last two default to portcullis).
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import jwt from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';

const typeDefs = `
  type User { id: ID! email: String! }
  type Query { me: User }
`;

interface Context {
  readonly token: string | null;
}

const key = createSecretKey(Buffer.from(process.env.JWT_SECRET ?? '', 'utf8'));
const issuer = process.env.JWT_ISSUER ?? 'portcullis';
const audience = process.env.JWT_AUDIENCE ?? 'portcullis';
const ME = { id: '00000000-0000-4000-8000-000000000000', email: 'bare@bench.portcullis.invalid' };

function unauthenticated(): GraphQLError {
  return new GraphQLError('Not signed in', { extensions: { code: 'UNAUTHENTICATED' } });
}

const resolvers = {
  Query: {
    me: (_parent: unknown, _args: unknown, ctx: Context) => {
      if (ctx.token === null) throw unauthenticated();
      try {
        const decoded = jwt.verify(ctx.token, key, { algorithms: ['HS256'], issuer, audience, complete: true });
        if (decoded.header.typ !== 'at+jwt') throw unauthenticated();
      } catch {
        throw unauthenticated();
      }
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
      context: async ({ req }) => ({
        token: /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? null,
      }),
    }),
  );
  const port = Number(process.env.PORT ?? 4100);
  app.listen(port, () => console.log(`bare apollo listening on http://localhost:${port}/graphql`));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
