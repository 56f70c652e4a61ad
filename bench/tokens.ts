// Access tokens for sessions the bench seeded itself, signed as docs/contract.md describes them (HS256, typ at+jwt,
// iss, aud, sub, sid, jti, iat, exp, scope, roles): tens of thousands of distinct sessions, more than logging
// in one by one would allow in the time, so that every `me` request can name a session not asked about before.
import jwt from 'jsonwebtoken';
import { createSecretKey, randomUUID } from 'node:crypto';
import { BENCH_JWT_SECRET } from './settings';

const key = createSecretKey(Buffer.from(BENCH_JWT_SECRET, 'utf8'));

/** A USER's access token for `sessionId`, valid for 30 minutes. */
export function mintAccessToken(userId: string, sessionId: string): string {
  return jwt.sign({ sid: sessionId, scope: 'self:read self:write', roles: ['USER'] }, key, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: 'at+jwt' },
    issuer: 'portcullis',
    audience: 'portcullis',
    subject: userId,
    jwtid: randomUUID(),
    expiresIn: 1800,
  });
}
