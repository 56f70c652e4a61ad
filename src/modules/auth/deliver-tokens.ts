// How an AuthPayload reaches the client: in cookie mode the refresh token moves out of the payload into the
// HttpOnly cookie of ctx.refreshCookie. Every mutation that signs a user in answers through this.
import type { GraphQLContext } from '../../common/request-context';
import type { AuthPayload } from './auth.types';

/** In cookie mode, moves the refresh token out of the payload into the cookie. */
export function deliver(ctx: GraphQLContext, payload: AuthPayload): AuthPayload {
  if (ctx.refreshCookie === null || payload.refreshToken === null) return payload;
  ctx.refreshCookie.set(payload.refreshToken);
  return { ...payload, refreshToken: null };
}
