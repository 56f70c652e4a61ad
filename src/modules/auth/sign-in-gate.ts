// The one place every way in passes before a session exists (password, emailed code, provider, passkey, and the
// second factor that finishes any of them): MFA on and a first factor below level 2 → MFA_REQUIRED with a ticket,
// no session, no tokens. Otherwise the session opens here, audited with its method, and a device the account has not
// used lately gets the owner a notice (devices/).
import type { EntityManager } from '@mikro-orm/postgresql';
import { acrOf, type AuthMethod } from '../../common/assurance';
import type { Clock } from '../../common/clock';
import type { MfaRequiredError } from '../../common/errors';
import { networkKey } from '../../common/ip';
import type { ClientInfo } from '../../common/request-context';
import { AuditEventType, SignInMethod } from '../audit/audit-event-type';
import type { AuditService } from '../audit/audit.service';
import type { MfaTicketService } from '../mfa/mfa-tickets.service';
import type { MfaService } from '../mfa/mfa.service';
import { describeDevice, deviceOf, rememberDevice } from '../devices/known-devices';
import type { OutboxService } from '../mail/outbox.service';
import { newDeviceEmail } from '../mail/templates';
import { rememberNetwork } from '../otp/known-networks';
import type { AccessTokenService } from '../sessions/access-token.service';
import type { IssuedSession, SessionService } from '../sessions/session.service';
import type { User } from '../users/user.entity';
import { toUserView } from '../users/user.types';
import type { AuthPayload } from './auth.types';

/** The RFC 8176 methods each first factor records (a passkey's depend on user verification: common/assurance.ts passkeyMethods). */
export const FIRST_FACTOR_METHODS: Readonly<
  Record<Exclude<SignInMethod, SignInMethod.PASSKEY>, readonly AuthMethod[]>
> = {
  PASSWORD: ['pwd'],
  CODE: ['email'],
  PROVIDER: ['fed'],
};

/** A session opened, or the MFA_REQUIRED error to throw once the transaction that made its ticket commits. */
export type Opened = { readonly issued: IssuedSession } | { readonly mfaRequired: MfaRequiredError };

export interface GateDeps {
  readonly clock: Clock;
  readonly sessions: SessionService;
  readonly accessTokens: AccessTokenService;
  readonly audit: AuditService;
  readonly mfa: MfaService;
  readonly tickets: MfaTicketService;
  readonly outbox: OutboxService;
}

export class SignInGate {
  constructor(private readonly deps: GateDeps) {}

  /**
   * Opens a session for `user`, whose first factor `method` proved `amr` — or, for a user with MFA on and `amr`
   * below level 2, makes an MFA ticket instead. Both in `tx`.
   */
  async open(
    tx: EntityManager,
    user: User,
    method: SignInMethod,
    amr: readonly string[],
    detail: string,
    client: ClientInfo,
  ): Promise<Opened> {
    if (acrOf(amr) !== 'aal2' && (await this.deps.mfa.isEnabled(tx, user.id))) {
      return { mfaRequired: await this.deps.tickets.issue(tx, user, method, amr) };
    }
    const now = this.deps.clock.now();
    await rememberNetwork(tx, user.id, networkKey(client.ip), now);
    const device = deviceOf(client);
    if (await rememberDevice(tx, user.id, device, now)) {
      this.deps.outbox.notify(tx, user, newDeviceEmail(describeDevice(device), device.network, now));
    }
    const issued = this.deps.sessions.create(tx, user, client, amr as readonly AuthMethod[]);
    this.deps.audit.record(tx, client, {
      type: AuditEventType.LOGIN_SUCCEEDED,
      actorUserId: user.id,
      subjectUserId: user.id,
      email: user.email,
      method,
      detail,
      sessionId: issued.sessionId,
    });
    return { issued };
  }

  /** The tokens of an opened session; throws MFA_REQUIRED for a ticket (call after the transaction commits). */
  payload(opened: Opened): AuthPayload {
    if ('mfaRequired' in opened) throw opened.mfaRequired;
    return this.tokens(opened.issued);
  }

  /** The tokens of `issued`; `refreshToken` null leaves the client's refresh token as it is (reauthenticate). */
  tokens(issued: Omit<IssuedSession, 'refreshToken'> & { readonly refreshToken: string | null }): AuthPayload {
    const { user, sessionId, refreshToken } = issued;
    return {
      accessToken: this.deps.accessTokens.sign(user.id, sessionId, [...user.roles], issued.amr, issued.authTime),
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: this.deps.accessTokens.ttl,
      // The payload's user is the caller's own, though the request that signs in carries no token yet.
      user: Object.assign(toUserView(user), { viewerIsSelf: true }),
    };
  }
}
