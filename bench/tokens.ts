// Access tokens for sessions the bench seeded itself, signed as docs/contract.md describes them (typ at+jwt, kid,
// iss, aud, sub, sid, jti, iat, exp, scope, roles): tens of thousands of distinct sessions, more than logging in one
// by one would allow in the time, so that every `me` request can name a session not asked about before. ES256 with
// the server's own signing key (read from signing_keys, opened with the bench's data key), as Portcullis signs by
// default; HS256 with the bench's JWT_SECRET for the baselines, which verify HS256 only.
import jwt from 'jsonwebtoken';
import { createPrivateKey, createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import type { Client } from 'pg';
import { parseDataKeys } from '../src/config/data-keys';
import { Sealer } from '../src/common/sealing';
import { BENCH_DATA_KEYS, BENCH_JWT_SECRET, type JwtAlgorithm } from './settings';

export interface Signer {
  readonly algorithm: JwtAlgorithm;
  readonly kid: string;
  readonly key: KeyObject;
}

/** JWT_SECRET, as Portcullis signs in HS256 mode (kid "hs256") and as the baselines verify (bare-jwt.ts). */
export const HS256_SIGNER: Signer = {
  algorithm: 'HS256',
  kid: 'hs256',
  key: createSecretKey(Buffer.from(BENCH_JWT_SECRET, 'utf8')),
};

/** The key Portcullis signs with now (ES256): the active row of signing_keys, its private key unsealed. */
export async function es256Signer(db: Client): Promise<Signer> {
  const { rows } = await db.query<{ kid: string; private_key: string }>(
    `select kid, private_key from signing_keys where activated_at is not null and retired_at is null
     order by activated_at desc limit 1`,
  );
  const row = rows[0];
  if (row === undefined) throw new Error('no active signing key: has Portcullis started with JWT_ALGORITHM=ES256?');
  const sealer = Sealer.fromBytes(parseDataKeys(BENCH_DATA_KEYS)!);
  return { algorithm: 'ES256', kid: row.kid, key: createPrivateKey(sealer.open(row.private_key)) };
}

/** A USER's access token for `sessionId`, valid for 30 minutes. */
export function mintAccessToken(signer: Signer, userId: string, sessionId: string): string {
  return jwt.sign({ sid: sessionId, scope: 'self:read self:write', roles: ['USER'] }, signer.key, {
    algorithm: signer.algorithm,
    header: { alg: signer.algorithm, typ: 'at+jwt', kid: signer.kid },
    issuer: 'portcullis',
    audience: 'portcullis',
    subject: userId,
    jwtid: randomUUID(),
    expiresIn: 1800,
  });
}
