// Requests that are wrong in their envelope, not their variables (issue 11, item 10): a persisted-query extension
// that is malformed or unknown, a subscription, a validly signed token whose session id is not a UUID. Each is
// answered with a client error code, never INTERNAL_SERVER_ERROR, and logged at info, not error.
import jwt from 'jsonwebtoken';
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '../src/common/logger';
import { errorCode, postGraphQL } from './helpers/client';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/test-server';

const lines: Array<{ level: string; msg: string }> = [];
const recording: Logger = {
  error: (msg) => lines.push({ level: 'error', msg }),
  warn: (msg) => lines.push({ level: 'warn', msg }),
  info: (msg) => lines.push({ level: 'info', msg }),
};

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ logger: recording });
});
afterAll(async () => {
  await app?.stop();
});

async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await postGraphQL(app.url, body, { headers });
  return { status: res.status, code: errorCode(res) };
}

const query = '{ __typename }';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('a malformed request is a client error, never INTERNAL_SERVER_ERROR', () => {
  const cases: Array<[string, unknown, string]> = [
    [
      'a persisted query with a wrong hash',
      { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha('other') } } },
      'BAD_REQUEST',
    ],
    [
      'a persisted query of version 2',
      { query, extensions: { persistedQuery: { version: 2, sha256Hash: sha(query) } } },
      'BAD_REQUEST',
    ],
    ['a persisted query without a hash', { query, extensions: { persistedQuery: { version: 1 } } }, 'BAD_REQUEST'],
    ['a persisted query given as a string', { query, extensions: { persistedQuery: 'x' } }, 'BAD_REQUEST'],
    [
      'an unknown persisted query without its text',
      { extensions: { persistedQuery: { version: 1, sha256Hash: sha('{ me { id } }') } } },
      'PERSISTED_QUERY_NOT_FOUND',
    ],
    ['a subscription', { query: 'subscription { x }' }, 'GRAPHQL_VALIDATION_FAILED'],
  ];
  it.each(cases)('%s', async (_name, body, expected) => {
    const before = lines.length;
    const res = await post(body);
    expect(res.code).toBe(expected);
    expect(res.status).toBeLessThan(500);
    expect(lines.slice(before).filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a validly signed access token whose sid is not a UUID is UNAUTHENTICATED', async () => {
    const token = jwt.sign(
      {
        sub: randomUUID(),
        sid: 'not-a-uuid',
        scope: 'profile:read',
        roles: ['USER'],
        client_id: 'portcullis',
        jti: randomUUID(),
      },
      TEST_JWT_SECRET,
      {
        algorithm: 'HS256',
        header: { alg: 'HS256', typ: 'at+jwt' },
        issuer: 'portcullis',
        audience: 'portcullis',
        expiresIn: 600,
      },
    );
    const before = lines.length;
    const res = await post({ query: '{ me { id } }' }, { authorization: `Bearer ${token}` });
    expect(res.code).toBe('UNAUTHENTICATED');
    expect(lines.slice(before).filter((l) => l.level === 'error')).toEqual([]);
  });
});
