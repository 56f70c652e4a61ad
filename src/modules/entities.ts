// Every entity, listed once for the ORM.
import { AuditEvent } from './audit/audit-event.entity';
import { OtpCode } from './otp/otp-code.entity';
import { OtpFailure } from './otp/otp-failure.entity';
import { KnownNetwork } from './otp/known-network.entity';
import { RetiredRefreshToken } from './sessions/retired-refresh-token.entity';
import { Session } from './sessions/session.entity';
import { MailOutbox } from './mail/mail-outbox.entity';
import { User } from './users/user.entity';
import { Identity } from './identities/identity.entity';
import { OAuthFlow } from './identities/oauth-flow.entity';
import { UsedIdToken } from './identities/used-id-token.entity';
import { MfaFactor } from './mfa/mfa-factor.entity';
import { RecoveryCode } from './mfa/recovery-code.entity';
import { MfaTicket } from './mfa/mfa-ticket.entity';
import { WebAuthnChallenge } from './mfa/webauthn-challenge.entity';
import { SigningKey } from './signing-keys/signing-key.entity';
import { ApiKey } from './api-keys/api-key.entity';
import { KnownDevice } from './devices/known-device.entity';
import { WebhookDelivery } from './webhooks/webhook-delivery.entity';

export const ENTITIES = [
  User,
  Session,
  RetiredRefreshToken,
  OtpCode,
  OtpFailure,
  KnownNetwork,
  MailOutbox,
  AuditEvent,
  Identity,
  OAuthFlow,
  UsedIdToken,
  MfaFactor,
  RecoveryCode,
  MfaTicket,
  WebAuthnChallenge,
  SigningKey,
  ApiKey,
  KnownDevice,
  WebhookDelivery,
];
