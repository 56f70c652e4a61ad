// The baselines' bearer check, exactly as Portcullis checks its access tokens: HS256 with a KeyObject made once
// (jsonwebtoken with a string secret costs ~0.8 ms a call), or ES256 with the server's public key when
// JWT_PUBLIC_KEY (PEM) is given; iss, aud, exp and `typ: at+jwt`.
// Env: JWT_SECRET or JWT_PUBLIC_KEY, JWT_ISSUER, JWT_AUDIENCE (the last two default to portcullis).
import jwt from 'jsonwebtoken';
import { createPublicKey, createSecretKey } from 'node:crypto';

const publicPem = process.env.JWT_PUBLIC_KEY;
const key = publicPem ? createPublicKey(publicPem) : createSecretKey(Buffer.from(process.env.JWT_SECRET ?? '', 'utf8'));
const algorithm = publicPem ? 'ES256' : 'HS256';
const issuer = process.env.JWT_ISSUER ?? 'portcullis';
const audience = process.env.JWT_AUDIENCE ?? 'portcullis';

/** The user id (`sub`) of a valid bearer token in this Authorization header, or null. */
export function bearerSubject(authorization: string | undefined): string | null {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (token === undefined) return null;
  try {
    const decoded = jwt.verify(token, key, { algorithms: [algorithm], issuer, audience, complete: true });
    const sub = typeof decoded.payload === 'object' ? decoded.payload.sub : undefined;
    return decoded.header.typ === 'at+jwt' && typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}
