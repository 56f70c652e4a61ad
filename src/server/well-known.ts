// The documents other services read to verify Portcullis's tokens: GET /.well-known/jwks.json (the public keys) and
// GET /.well-known/openid-configuration (RFC 8414 metadata that applies). Cacheable for 5 minutes, with an ETag, so a
// verifier refetches cheaply; a new key is published 10 minutes before it signs, so a 5-minute cache never misses it.
import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { Config } from '../config/config';
import type { KeyRing } from '../modules/signing-keys/key-ring';
import { ALL_SCOPES } from '../common/roles';

export const JWKS_PATH = '/.well-known/jwks.json';
export const INTROSPECTION_PATH = '/oauth/introspect';

function sendCacheable(req: Request, res: Response, body: unknown): void {
  const json = JSON.stringify(body);
  const etag = `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`;
  res.setHeader('Cache-Control', 'public, max-age=300');
  res.setHeader('ETag', etag);
  // RFC 9110: a list of tags, weak ones compared weakly, or `*`.
  const tags = (req.headers['if-none-match'] ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (tags.includes(etag) || tags.includes('*')) {
    res.status(304).end();
    return;
  }
  res.type('application/json').send(json);
}

export function wellKnown(config: Config, keyRing: KeyRing): Router {
  const router = Router();
  const base = config.socialSignIn.publicUrl;
  router.get(JWKS_PATH, (req, res) => sendCacheable(req, res, keyRing.jwks()));
  router.get('/.well-known/openid-configuration', (req, res) =>
    sendCacheable(req, res, {
      issuer: config.jwtIssuer,
      jwks_uri: `${base}${JWKS_PATH}`,
      introspection_endpoint: `${base}${INTROSPECTION_PATH}`,
      introspection_endpoint_auth_methods_supported: ['bearer'],
      // What access tokens are signed with now (HS256 tokens cannot be verified with the JWKS).
      access_token_signing_alg_values_supported: [keyRing.algorithm],
      scopes_supported: ALL_SCOPES,
    }),
  );
  return router;
}
