// PUBLIC_URL/oauth/callback: where providers send the browser back, by GET (query) or POST (form_post). It works
// without cookies (the state finds the flow), answers with a 303 to the app's redirect URI, and is not cached.
import type { EntityManager } from '@mikro-orm/postgresql';
import express, { type RequestHandler, type Router } from 'express';
import { canonicalIp } from '../common/ip';
import { errorFields, type Logger } from '../common/logger';
import type { SocialSignInService } from '../modules/identities/social-sign-in.service';

export const CALLBACK_PATH = '/oauth/callback';

/** `limit`: the per-IP request limit /graphql answers under (one counter per IP for both). */
export function oauthCallback(
  social: SocialSignInService,
  em: () => EntityManager,
  limit: RequestHandler,
  logger: Logger,
): Router {
  const router = express.Router();
  const handle: RequestHandler = async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer'); // the code in the redirect must not leak onward
    const params = new URLSearchParams();
    const source = req.method === 'POST' ? (req.body as Record<string, unknown>) : req.query;
    for (const [key, value] of Object.entries(source ?? {})) {
      if (typeof value === 'string') params.set(key, value);
    }
    try {
      const client = { ip: canonicalIp(req.ip), userAgent: req.get('user-agent')?.slice(0, 512) ?? null };
      const answer = await social.callback(em(), params, client);
      if ('redirect' in answer) {
        res.redirect(303, answer.redirect);
      } else {
        res.status(answer.status).type('text/plain').send(answer.message);
      }
    } catch (err) {
      logger.error('oauth callback failed', errorFields(err));
      res.status(500).type('text/plain').send('Sign-in failed. Start again from the app.');
    }
  };
  router.get(CALLBACK_PATH, limit, handle);
  router.post(CALLBACK_PATH, limit, express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }), handle);
  return router;
}
