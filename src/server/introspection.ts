// POST /oauth/introspect (RFC 7662): a resource server asks whether a token is live. The caller authenticates with
// an API key holding `tokens:introspect` as Bearer. The answer comes from the same check every GraphQL request makes
// (signature, expiry, live session, active owner, current roles), so a revocation is seen at once.
import type { EntityManager } from '@mikro-orm/postgresql';
import express, { type RequestHandler, type Router } from 'express';
import { errorFields, type Logger } from '../common/logger';
import type { Principal } from '../common/request-context';
import { Scope } from '../common/roles';
import type { ApiKeyService } from '../modules/api-keys/api-key.service';
import type { Authenticator } from '../modules/sessions/authenticator';
import { INTROSPECTION_PATH } from './well-known';

export interface IntrospectionParts {
  readonly authenticator: Authenticator;
  readonly apiKeys: ApiKeyService;
  /** `client_id` of access tokens: their audience. */
  readonly audience: string;
  readonly em: () => EntityManager;
  readonly logger: Logger;
}

/** What RFC 7662 answers for a live token; anything dead is `{ active: false }`. */
export function introspectionAnswer(principal: Principal, audience: string): Record<string, unknown> {
  const { claims } = principal;
  if (principal.apiKeyId !== undefined) {
    return {
      active: true,
      sub: claims.sub,
      scope: claims.scope,
      iat: claims.iat,
      ...(claims.exp === Number.MAX_SAFE_INTEGER ? {} : { exp: claims.exp }),
      client_id: 'api_key',
    };
  }
  return {
    active: true,
    sub: claims.sub,
    scope: principal.scopes.join(' '),
    exp: claims.exp,
    iat: claims.iat,
    sid: claims.sid,
    client_id: audience,
  };
}

/**
 * Not under the per-IP request limit: a resource server calls it at its own request rate. An unknown caller costs one
 * indexed lookup of a 238-bit secret's hash.
 */
export function introspection(parts: IntrospectionParts): Router {
  const router = express.Router();
  const handle: RequestHandler = async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const em = parts.em();
    try {
      const bearer = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
      const caller = bearer === undefined ? null : await parts.apiKeys.find(em, bearer);
      if (caller === null) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        res.status(401).json({ error: 'invalid_client', error_description: 'send an API key as Bearer' });
        return;
      }
      if (!caller.scopes.includes(Scope.TOKENS_INTROSPECT)) {
        res.status(403).json({ error: 'insufficient_scope', error_description: 'the API key needs tokens:introspect' });
        return;
      }
      const token = (req.body as Record<string, unknown> | undefined)?.token;
      if (typeof token !== 'string' || token === '') {
        res.status(400).json({ error: 'invalid_request', error_description: 'the form field token is required' });
        return;
      }
      let principal: Principal | null = null;
      try {
        principal = await parts.authenticator.authenticate(em, token);
      } catch {
        principal = null; // dead, forged or unknown: RFC 7662 answers only "not active"
      }
      res.json(principal === null ? { active: false } : introspectionAnswer(principal, parts.audience));
    } catch (err) {
      parts.logger.error('introspection failed', errorFields(err));
      res.status(500).json({ error: 'server_error' });
    }
  };
  router.post(INTROSPECTION_PATH, express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 }), handle);
  return router;
}
