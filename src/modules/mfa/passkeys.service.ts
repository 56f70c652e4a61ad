// Passkeys (WebAuthn) on @simplewebauthn/server: the ceremonies Portcullis begins, kept as single-use challenges
// (webauthn_challenges), and the checks of what the browser answers. A passkey is an MfaFactor of type PASSKEY.
import type { EntityManager } from '@mikro-orm/postgresql';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { addSeconds, type Clock } from '../../common/clock';
import type { KeyObject } from 'node:crypto';
import { hmac } from '../../common/crypto';
import type { User } from '../users/user.entity';
import { MfaFactor } from './mfa-factor.entity';
import { MfaFactorType } from './mfa-factor-type';
import { CeremonyPurpose, WebAuthnChallenge } from './webauthn-challenge.entity';

export interface PasskeySettings {
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
}

/** A ceremony begun: what `WebAuthnChallenge` answers. */
export interface Ceremony {
  readonly challengeId: string;
  readonly options: Record<string, unknown>;
  readonly expiresIn: number;
}

/** What a verified assertion proved. */
export interface Assertion {
  readonly factor: MfaFactor;
  readonly userVerified: boolean;
}

/** Seconds a ceremony may take (the browser's timeout too). */
export const CEREMONY_TTL = 300;

let simpleWebAuthn: typeof import('@simplewebauthn/server') | undefined;

/**
 * @simplewebauthn/server, loaded by the first ceremony: with its ~290 modules it was a tenth of the CPU a process
 * spends loading the server, paid by every start (and every one-shot script) whether or not passkeys are used.
 */
function webAuthn(): typeof import('@simplewebauthn/server') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  return (simpleWebAuthn ??= require('@simplewebauthn/server') as typeof import('@simplewebauthn/server'));
}

export class PasskeyService {
  constructor(
    private readonly settings: PasskeySettings,
    private readonly clock: Clock,
    /** Derives the stand-in credential offered for an email without passkeys (same answer shape). */
    private readonly decoyKey: KeyObject,
  ) {}

  /** Begins adding a passkey to `user`; the ones they have are excluded so one authenticator is not added twice. */
  async startRegistration(em: EntityManager, user: User): Promise<Ceremony> {
    const existing = await this.passkeysOf(em, user.id);
    const options = await webAuthn().generateRegistrationOptions({
      rpName: this.settings.rpName,
      rpID: this.settings.rpId,
      userName: user.email,
      userDisplayName: user.fullName ?? user.email,
      userID: new TextEncoder().encode(user.id),
      timeout: CEREMONY_TTL * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((f) => ({ id: f.credentialId!, transports: this.transports(f) })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    return this.begin(em, CeremonyPurpose.REGISTER, user, options.challenge, options);
  }

  /**
   * Checks a RegistrationResponseJSON for the REGISTER ceremony `challengeId` of `user` and returns the new
   * (unflushed) factor; null when it is not a valid answer to that ceremony.
   */
  async finishRegistration(
    em: EntityManager,
    user: User,
    challengeId: string,
    response: unknown,
    name: string | null,
  ): Promise<MfaFactor | null> {
    const ceremony = await this.claim(em, CeremonyPurpose.REGISTER, { id: challengeId, userId: user.id });
    if (ceremony === null) return null;
    let info;
    try {
      const verified = await webAuthn().verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: ceremony.challenge,
        expectedOrigin: [...this.settings.origins],
        expectedRPID: this.settings.rpId,
        requireUserVerification: false,
      });
      if (!verified.verified) return null;
      info = verified.registrationInfo;
    } catch {
      return null;
    }
    const taken = await em.count(MfaFactor, { credentialId: info.credential.id });
    if (taken > 0) return null;
    return em.create(MfaFactor, {
      user,
      type: MfaFactorType.PASSKEY,
      name,
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      signCount: info.credential.counter,
      transports: info.credential.transports ?? [],
      confirmedAt: this.clock.now(),
      createdAt: this.clock.now(),
    });
  }

  /**
   * Begins an assertion: for `user`'s passkeys, or any discoverable one when `user` is null. `decoyFor` (an email
   * with no passkeys, or no account) gets one stand-in credential derived from it, so the answer has one shape.
   */
  async startAssertion(
    em: EntityManager,
    purpose: CeremonyPurpose,
    user: User | null,
    decoyFor?: string,
  ): Promise<Ceremony> {
    const passkeys = user === null ? [] : await this.passkeysOf(em, user.id);
    const allowCredentials = passkeys.map((f) => ({ id: f.credentialId!, transports: this.transports(f) }));
    if (allowCredentials.length === 0 && decoyFor !== undefined) {
      allowCredentials.push({ id: hmac(this.decoyKey, decoyFor).slice(0, 43), transports: ['internal'] });
    }
    const options = await webAuthn().generateAuthenticationOptions({
      rpID: this.settings.rpId,
      allowCredentials,
      userVerification: 'preferred',
      timeout: CEREMONY_TTL * 1000,
    });
    return this.begin(em, purpose, passkeys.length > 0 ? user : null, options.challenge, options);
  }

  /**
   * Checks an AuthenticationResponseJSON for a ceremony of `purpose`: the one with id `challengeId`, or else the one
   * of `userId` whose challenge the response answers. The ceremony is spent either way. On success the passkey's
   * counter and last use are updated (unflushed). Failure: null.
   */
  async finishAssertion(
    em: EntityManager,
    purpose: CeremonyPurpose,
    response: unknown,
    target: { id?: string; userId?: string },
  ): Promise<Assertion | null> {
    const answered = response as AuthenticationResponseJSON;
    const challenge = target.id === undefined ? challengeOf(answered) : undefined;
    const ceremony = await this.claim(em, purpose, { ...target, challenge });
    if (ceremony === null || typeof answered?.id !== 'string') return null;
    const factor = await em.findOne(
      MfaFactor,
      { credentialId: answered.id, type: MfaFactorType.PASSKEY },
      { populate: ['user'] },
    );
    if (factor === null) return null;
    const expectedUser = ceremony.user?.id ?? target.userId;
    if (expectedUser !== undefined && factor.user.id !== expectedUser) return null;
    try {
      const verified = await webAuthn().verifyAuthenticationResponse({
        response: answered,
        expectedChallenge: ceremony.challenge,
        expectedOrigin: [...this.settings.origins],
        expectedRPID: this.settings.rpId,
        credential: {
          id: factor.credentialId!,
          publicKey: new Uint8Array(Buffer.from(factor.publicKey!, 'base64url')),
          counter: Number(factor.signCount ?? 0),
          transports: this.transports(factor),
        },
        requireUserVerification: false,
      });
      if (!verified.verified) return null;
      const { userHandle } = answered.response;
      if (userHandle && Buffer.from(userHandle, 'base64url').toString('utf8') !== factor.user.id) {
        return null;
      }
      factor.signCount = verified.authenticationInfo.newCounter;
      factor.lastUsedAt = this.clock.now();
      return { factor, userVerified: verified.authenticationInfo.userVerified };
    } catch {
      return null;
    }
  }

  private passkeysOf(em: EntityManager, userId: string): Promise<MfaFactor[]> {
    return em.find(MfaFactor, { user: userId, type: MfaFactorType.PASSKEY }, { orderBy: { createdAt: 'asc' } });
  }

  private transports(factor: MfaFactor): AuthenticatorTransport[] {
    return factor.transports as AuthenticatorTransport[];
  }

  private begin(
    em: EntityManager,
    purpose: CeremonyPurpose,
    user: User | null,
    challenge: string,
    options: object,
  ): Ceremony {
    const now = this.clock.now();
    const row = em.create(WebAuthnChallenge, {
      purpose,
      user,
      challenge,
      createdAt: now,
      expiresAt: addSeconds(now, CEREMONY_TTL),
    });
    return { challengeId: row.id, options: options as Record<string, unknown>, expiresIn: CEREMONY_TTL };
  }

  /** Spends a live ceremony in one conditional UPDATE, so a response is accepted at most once under races. */
  private async claim(
    em: EntityManager,
    purpose: CeremonyPurpose,
    by: { id?: string; userId?: string; challenge?: string },
  ): Promise<WebAuthnChallenge | null> {
    if (by.id === undefined && (by.userId === undefined || by.challenge === undefined)) return null;
    const now = this.clock.now();
    const where = {
      purpose,
      usedAt: null,
      expiresAt: { $gt: now },
      ...(by.id !== undefined ? { id: by.id } : { challenge: by.challenge }),
      // A ceremony begun for one account is answered only for that account.
      ...(by.userId !== undefined ? { user: by.userId } : {}),
    };
    const found = await em.findOne(WebAuthnChallenge, where);
    if (found === null) return null;
    const spent = await em.nativeUpdate(WebAuthnChallenge, { id: found.id, usedAt: null }, { usedAt: now });
    return spent === 1 ? found : null;
  }
}

/** The challenge a response says it answers (clientDataJSON.challenge), or undefined. */
function challengeOf(response: AuthenticationResponseJSON | undefined): string | undefined {
  try {
    const clientData = JSON.parse(Buffer.from(response!.response.clientDataJSON, 'base64url').toString('utf8')) as {
      challenge?: unknown;
    };
    return typeof clientData.challenge === 'string' ? clientData.challenge : undefined;
  } catch {
    return undefined;
  }
}
