// Sign-in and linking through an OpenID provider: the flow from startSocialSignIn through the provider's callback
// to completeSocialSignIn, and signInWithIdToken for native apps. The flow lives in PostgreSQL (oauth_flows), so
// any instance can answer any step, and every step is used once.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Sealer } from '../../common/sealing';
import { createHash } from 'node:crypto';
import { addSeconds, type Clock } from '../../common/clock';
import { randomToken, safeEqual, sha256 } from '../../common/crypto';
import {
  AccountDisabledError,
  BadUserInputError,
  IdentityConflictError,
  InvalidCredentialsError,
  InvalidOtpError,
} from '../../common/errors';
import { errorFields, type Logger } from '../../common/logger';
import type { ClientInfo, Principal } from '../../common/request-context';
import type { IdentityProviderConfig, SocialSignInConfig } from '../../config/identity-providers';
import { SignInMethod } from '../audit/audit-event-type';
import type { AuthService } from '../auth/auth.service';
import type { AuthPayload } from '../auth/auth.types';
import { User } from '../users/user.entity';
import { Identity } from './identity.entity';
import { ProviderUnavailableError } from './identity-errors';
import type { IdentityService, Linked } from './identity.service';
import { FlowPurpose, OAuthFlow } from './oauth-flow.entity';
import type { OidcClients, ProviderProfile } from './oidc-clients';

/** Seconds a flow's state stays valid, and the app's one-time code after the callback. */
export const FLOW_TTL_SECONDS = 600;
export const CODE_TTL_SECONDS = 60;

/** The `error` the app's redirect URI receives (docs/contract.md), and the metrics' outcomes besides `success`. */
export type CallbackError = 'access_denied' | 'invalid_request' | 'server_error' | 'identity_conflict';
export type SocialOutcome = 'success' | CallbackError;

/** Where the callback sends the browser: the app's redirect URI, or (state unknown) nowhere but an error page. */
export type CallbackAnswer = { readonly redirect: string } | { readonly status: 400; readonly message: string };

export interface SocialSignInDeps {
  readonly config: SocialSignInConfig;
  readonly clock: Clock;
  /** Seals the provider PKCE verifier kept with the flow. */
  readonly sealer: Sealer;
  readonly oidc: OidcClients;
  readonly identities: IdentityService;
  readonly auth: AuthService;
  readonly logger: Logger;
  /** Counts each finished callback or ID-token sign-in (metrics). */
  readonly onOutcome?: (provider: string, outcome: SocialOutcome) => void;
}

// What a provider may answer instead of a code that means "the user did not let it happen".
const DENIALS = new Set([
  'access_denied',
  'login_required',
  'consent_required',
  'interaction_required',
  'account_selection_required',
]);
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export class SocialSignInService {
  constructor(private readonly deps: SocialSignInDeps) {}

  get providers(): readonly IdentityProviderConfig[] {
    return this.deps.config.providers;
  }

  /** Opens a flow and answers the provider URL to send the browser to. LINK flows belong to `linkUserId`. */
  async start(
    em: EntityManager,
    purpose: FlowPurpose,
    providerId: string,
    redirectUri: string,
    codeChallenge: string,
    linkUserId: string | null,
  ): Promise<{ authorizationUrl: string; expiresIn: number }> {
    const provider = this.provider(providerId);
    const { redirectUris } = this.deps.config;
    if (redirectUris.length === 0) {
      throw new BadUserInputError('redirectUri', ['social sign-in is off: OAUTH_REDIRECT_URIS lists no URI']);
    }
    if (!redirectUris.includes(redirectUri)) {
      throw new BadUserInputError('redirectUri', ['must be one of the URIs in OAUTH_REDIRECT_URIS, exactly']);
    }
    if (!CHALLENGE.test(codeChallenge)) {
      throw new BadUserInputError('codeChallenge', ['must be base64url(SHA-256(verifier)): 43 characters']);
    }
    const checks = { state: randomToken(32), nonce: randomToken(32), verifier: randomToken(48) };
    const authorizationUrl = await this.deps.oidc.authorizationUrl(provider, checks);
    const now = this.deps.clock.now();
    em.create(OAuthFlow, {
      stateHash: sha256(checks.state),
      provider: provider.id,
      purpose,
      linkUserId,
      nonce: checks.nonce,
      providerVerifier: this.deps.sealer.seal(checks.verifier),
      appChallenge: codeChallenge,
      redirectUri,
      createdAt: now,
      expiresAt: addSeconds(now, FLOW_TTL_SECONDS),
    });
    await em.flush();
    return { authorizationUrl, expiresIn: FLOW_TTL_SECONDS };
  }

  /**
   * PUBLIC_URL/oauth/callback, GET or POST (form_post): `params` are the provider's query or form fields. Uses the
   * state once, has the provider's answer checked and the code exchanged, links or creates the account, and sends
   * the browser back to the app with a one-time `code` (or an `error`).
   */
  async callback(em: EntityManager, params: URLSearchParams, client: ClientInfo): Promise<CallbackAnswer> {
    const state = params.get('state');
    const flow = state === null ? null : await this.claimState(em, state);
    if (flow === null) {
      const known = state === null ? null : await em.findOne(OAuthFlow, { stateHash: sha256(state) });
      if (known === null) {
        return { status: 400, message: 'This sign-in link is not valid. Start again from the app.' };
      }
      return this.fail(known, 'invalid_request', 'state expired or already used');
    }
    const provider = this.deps.config.providers.find((p) => p.id === flow.provider);
    if (provider === undefined) return this.fail(flow, 'server_error', 'provider no longer configured');
    let profile: ProviderProfile;
    try {
      profile = await this.deps.oidc.exchange(provider, params, {
        state: state!,
        nonce: flow.nonce,
        verifier: this.deps.sealer.open(flow.providerVerifier),
      });
    } catch (err) {
      return this.fail(flow, callbackErrorOf(err), reasonOf(err));
    }
    if (!this.hostedDomainAllowed(provider, profile)) return this.fail(flow, 'access_denied', 'hosted domain');
    let linked: Linked;
    try {
      linked =
        flow.purpose === FlowPurpose.LINK
          ? await this.deps.identities.link(em.fork(), provider, profile, flow.linkUserId!, client)
          : await this.deps.identities.signIn(em.fork(), provider, profile, client);
    } catch (err) {
      if (err instanceof IdentityConflictError) return this.fail(flow, 'identity_conflict', 'identity conflict');
      if (err instanceof AccountDisabledError) return this.fail(flow, 'access_denied', 'account disabled');
      if (err instanceof BadUserInputError) return this.fail(flow, 'invalid_request', 'no email from the provider');
      this.deps.logger.error('social sign-in failed', errorFields(err));
      return this.fail(flow, 'server_error', 'unexpected');
    }
    const code = randomToken(32);
    await em.nativeUpdate(
      OAuthFlow,
      { id: flow.id },
      {
        resultUserId: linked.user.id,
        resultIdentityId: linked.identity.id,
        codeHash: sha256(code),
        codeExpiresAt: addSeconds(this.deps.clock.now(), CODE_TTL_SECONDS),
      },
    );
    this.deps.onOutcome?.(flow.provider, 'success');
    return { redirect: withParams(flow.redirectUri, { code }) };
  }

  /** completeSocialSignIn: the app's one-time code and its PKCE verifier → a session. */
  async complete(em: EntityManager, code: string, codeVerifier: string, client: ClientInfo): Promise<AuthPayload> {
    const flow = await this.redeem(em, code, codeVerifier, FlowPurpose.SIGN_IN);
    const user = flow.resultUserId === null ? null : await em.findOne(User, flow.resultUserId);
    if (user === null) throw new InvalidOtpError('The sign-in code is wrong, expired or already used');
    return this.deps.auth.signInProven(em, user, SignInMethod.PROVIDER, flow.provider, client);
  }

  /** completeSocialLink: like complete, for a link begun by the same signed-in user. */
  async completeLink(em: EntityManager, principal: Principal, code: string, codeVerifier: string): Promise<Identity> {
    const flow = await this.redeem(em, code, codeVerifier, FlowPurpose.LINK, principal.user.id);
    const identity = flow.resultIdentityId === null ? null : await em.findOne(Identity, flow.resultIdentityId);
    if (identity === null) throw new InvalidOtpError('The link code is wrong, expired or already used');
    return identity;
  }

  /**
   * signInWithIdToken: an ID token from the provider's own SDK, verified against the provider's JWKS with one of
   * its configured client ids as audience; its `nonce` claim must be SHA-256 of `nonce` (hex or base64url). Each
   * token (by its nonce) signs in once.
   */
  async signInWithIdToken(
    em: EntityManager,
    providerId: string,
    idToken: string,
    nonce: string | null | undefined,
    client: ClientInfo,
  ): Promise<AuthPayload> {
    const provider = this.provider(providerId);
    if (nonce == null && !provider.idTokenNonceOptional) {
      throw new BadUserInputError('nonce', ['this provider needs the raw nonce the ID token was requested with']);
    }
    let verified: Awaited<ReturnType<OidcClients['verifyIdToken']>>;
    try {
      verified = await this.deps.oidc.verifyIdToken(provider, idToken);
    } catch (err) {
      if (err instanceof ProviderUnavailableError) throw err;
      return this.refuseToken(provider, reasonOf(err));
    }
    const { profile, claims } = verified;
    const claimed = typeof claims.nonce === 'string' ? claims.nonce : null;
    if (nonce != null || claimed !== null) {
      if (nonce == null || claimed === null || !nonceMatches(nonce, claimed)) {
        return this.refuseToken(provider, 'nonce mismatch');
      }
    }
    if (!this.hostedDomainAllowed(provider, profile)) return this.refuseToken(provider, 'hosted domain');
    // By the raw nonce (checked against the claim above), so its hex and base64url spellings are one nonce.
    const replayKey = sha256(`${profile.issuer}\n${nonce != null ? sha256(nonce) : idToken}`);
    const fresh = await em
      .getConnection()
      .execute<{ affectedRows: number }>(
        'insert into used_id_tokens (hash, expires_at) values (?, ?) on conflict do nothing',
        [replayKey, new Date(Number(claims.exp) * 1000)],
        'run',
      );
    if (fresh.affectedRows !== 1) return this.refuseToken(provider, 'replayed');
    let linked: Linked;
    try {
      linked = await this.deps.identities.signIn(em.fork(), provider, profile, client);
    } catch (err) {
      if (err instanceof IdentityConflictError) this.deps.onOutcome?.(provider.id, 'identity_conflict');
      throw err;
    }
    this.deps.onOutcome?.(provider.id, 'success');
    const fork = em.fork();
    const user = await fork.findOneOrFail(User, linked.user.id);
    return this.deps.auth.signInProven(fork, user, SignInMethod.PROVIDER, `${provider.id} (ID token)`, client);
  }

  private provider(id: string): IdentityProviderConfig {
    const found = this.deps.config.providers.find((p) => p.id === id);
    if (found === undefined) {
      const known = this.deps.config.providers.map((p) => p.id).join(', ') || 'none is configured';
      throw new BadUserInputError('provider', [`unknown provider (known: ${known})`]);
    }
    return found;
  }

  /** Takes the flow of `state` if it is live and unused: one conditional UPDATE, so only one callback wins. */
  private async claimState(em: EntityManager, state: string): Promise<OAuthFlow | null> {
    const now = this.deps.clock.now();
    const stateHash = sha256(state);
    const claimed = await em.nativeUpdate(
      OAuthFlow,
      { stateHash, callbackAt: null, expiresAt: { $gt: now } },
      { callbackAt: now },
    );
    return claimed === 1 ? em.findOne(OAuthFlow, { stateHash }, { refresh: true }) : null;
  }

  /** Spends the code (whatever follows: a wrong verifier burns it too), then checks the verifier and the owner. */
  private async redeem(
    em: EntityManager,
    code: string,
    codeVerifier: string,
    purpose: FlowPurpose,
    userId?: string,
  ): Promise<OAuthFlow> {
    const refused = new InvalidOtpError(
      purpose === FlowPurpose.LINK
        ? 'The link code is wrong, expired or already used'
        : 'The sign-in code is wrong, expired or already used',
    );
    if (!VERIFIER.test(codeVerifier)) {
      throw new BadUserInputError('codeVerifier', ['must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~']);
    }
    const now = this.deps.clock.now();
    const codeHash = sha256(code);
    const spent = await em.nativeUpdate(
      OAuthFlow,
      { codeHash, usedAt: null, codeExpiresAt: { $gt: now } },
      { usedAt: now },
    );
    if (spent !== 1) throw refused;
    const flow = await em.findOneOrFail(OAuthFlow, { codeHash }, { refresh: true });
    const challenge = createHash('sha256').update(codeVerifier).digest('base64url');
    if (flow.purpose !== purpose || !safeEqual(challenge, flow.appChallenge)) throw refused;
    if (purpose === FlowPurpose.LINK && flow.linkUserId !== userId) throw refused;
    return flow;
  }

  private hostedDomainAllowed(provider: IdentityProviderConfig, profile: ProviderProfile): boolean {
    return provider.hostedDomains.length === 0 || provider.hostedDomains.includes(profile.hostedDomain ?? '');
  }

  private fail(flow: OAuthFlow, error: CallbackError, reason: string): CallbackAnswer {
    this.deps.logger.warn('social sign-in refused', { provider: flow.provider, error, reason });
    this.deps.onOutcome?.(flow.provider, error);
    return { redirect: withParams(flow.redirectUri, { error }) };
  }

  private refuseToken(provider: IdentityProviderConfig, reason: string): never {
    this.deps.logger.warn('ID token refused', { provider: provider.id, reason });
    this.deps.onOutcome?.(provider.id, 'invalid_request');
    throw new InvalidCredentialsError('The ID token is not valid for this provider');
  }
}

/** `claimed` is SHA-256 of `raw`, as hex or base64url (what the provider SDKs send). */
function nonceMatches(raw: string, claimed: string): boolean {
  const digest = createHash('sha256').update(raw, 'utf8').digest();
  return safeEqual(digest.toString('hex'), claimed) || safeEqual(digest.toString('base64url'), claimed);
}

/** The redirect's `error` for a failure of the provider's answer or of the code exchange. */
function callbackErrorOf(err: unknown): CallbackError {
  if (err instanceof ProviderUnavailableError) return 'server_error';
  const code = (err as { error?: unknown }).error;
  if (err instanceof Error && err.name === 'AuthorizationResponseError' && typeof code === 'string') {
    return DENIALS.has(code) ? 'access_denied' : 'server_error';
  }
  return 'invalid_request'; // a wrong state, iss, code, PKCE verifier, or an ID token that failed a check
}

/** A short, secret-free reason for the log: the error's class and its OAuth or library code. */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown';
  const { error, code } = err as { error?: unknown; code?: unknown };
  return [err.name, typeof code === 'string' ? code : null, typeof error === 'string' ? error : null]
    .filter((p) => p !== null)
    .join(' ');
}

function withParams(uri: string, params: Record<string, string>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}
