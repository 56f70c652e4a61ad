// Every email Portcullis sends, in one module: the codes, and the security notices. Each template gives a subject
// and paragraphs; `branded` (applied by the outbox to every message) names APP_NAME in the subject and both bodies.
// The plain-text part holds a code as 6 consecutive digits and no other run of 6 or more digits, so that clients
// and tests can read it out reliably.
import type { OtpPurpose } from '../otp/otp-purpose';

export interface EmailContent {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export type EmailKind =
  | 'verify-email'
  | 'login-code'
  | 'reset-code'
  | 'already-registered'
  | 'identity-linked'
  | 'identity-unlinked'
  | 'mfa-factor-added'
  | 'mfa-factor-removed'
  | 'api-key-created'
  | 'change-email-code'
  | 'password-changed'
  | 'password-reset'
  | 'email-changed'
  | 'account-deleted'
  | 'new-device';

/** A template's output: what the message is about, before `branded` names the app in it. */
export type Email = EmailContent & { readonly kind: EmailKind };

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const CODE_EMAILS: Record<OtpPurpose, { kind: EmailKind; subject: string; intro: string }> = {
  VERIFY_EMAIL: {
    kind: 'verify-email',
    subject: 'Confirm your email address',
    intro: 'Use this code to confirm your email address and finish signing up:',
  },
  LOGIN: { kind: 'login-code', subject: 'Your sign-in code', intro: 'Use this code to sign in:' },
  RESET_PASSWORD: {
    kind: 'reset-code',
    subject: 'Reset your password',
    intro: 'Use this code to choose a new password:',
  },
  CHANGE_EMAIL: {
    kind: 'change-email-code',
    subject: 'Confirm your new email address',
    intro: 'Use this code to make this address the email of your account:',
  },
};

/** The kinds of email that carry a one-time code. */
export const CODE_EMAIL_KINDS: ReadonlySet<string> = new Set(Object.values(CODE_EMAILS).map((e) => e.kind));

export function codeEmail(purpose: OtpPurpose, code: string, ttlSeconds: number): Email {
  const { kind, subject, intro } = CODE_EMAILS[purpose];
  const minutes = Math.max(1, Math.round(ttlSeconds / 60));
  const outro = `The code expires in ${minutes} minutes. If you did not ask for it, you can ignore this email.`;
  return {
    kind,
    subject,
    text: `${intro}\n\n    ${code}\n\n${outro}\n`,
    html:
      `<p>${escapeHtml(intro)}</p>` +
      `<p style="font-size:24px;font-weight:bold;letter-spacing:4px">${code}</p>` +
      `<p>${escapeHtml(outro)}</p>`,
  };
}

/** A notice without a code: plain-text paragraphs, and the same as HTML. */
function notice(kind: EmailKind, subject: string, text: string): Email {
  return {
    kind,
    subject,
    text,
    html: text
      .trim()
      .split('\n\n')
      .map((p) => `<p>${escapeHtml(p)}</p>`)
      .join(''),
  };
}

export function alreadyRegisteredEmail(): Email {
  return notice(
    'already-registered',
    'You already have an account',
    'Someone tried to create an account with this email address, which already has one. ' +
      'Your account has not been changed.\n\nIf it was you, sign in instead, or reset your password if you ' +
      'have forgotten it. If it was not you, you can ignore this email.\n',
  );
}

export function identityLinkedEmail(provider: string): Email {
  return notice(
    'identity-linked',
    `${provider} sign-in was added to your account`,
    `A ${provider} account was linked to your account: it can now be used to sign in.\n\n` +
      'If this was not you, sign in, remove it from your linked accounts and change your password, or contact support.\n',
  );
}

export function identityUnlinkedEmail(provider: string): Email {
  return notice(
    'identity-unlinked',
    `${provider} sign-in was removed from your account`,
    `The ${provider} account linked to your account was removed: it can no longer be used to sign in.\n\n` +
      'If this was not you, sign in and change your password, or contact support.\n',
  );
}

/** `factor`: how the user knows it, e.g. `An authenticator app (Phone)` or `A passkey`. */
export function mfaFactorAddedEmail(factor: string): Email {
  return notice(
    'mfa-factor-added',
    'A second factor was added to your account',
    `${factor} was added to your account as a second factor for signing in.\n\n` +
      'If this was not you, sign in, remove it and change your password, or contact support.\n',
  );
}

/** `factor` as for mfaFactorAddedEmail; `all` when every factor was removed (MFA is now off). */
export function mfaFactorRemovedEmail(factor: string, mfaOff: boolean): Email {
  return notice(
    'mfa-factor-removed',
    'A second factor was removed from your account',
    `${factor} was removed from your account.` +
      (mfaOff ? ' Signing in no longer asks for a second factor.' : '') +
      '\n\nIf this was not you, sign in, change your password and set up your second factor again, or contact support.\n',
  );
}

export function apiKeyCreatedEmail(name: string, prefix: string): Email {
  return notice(
    'api-key-created',
    'An API key was created for your account',
    `An API key named "${name}" (${prefix}…) was created for your account. It can act as you within its scopes.\n\n` +
      'If this was not you, sign in, revoke it, change your password, or contact support.\n',
  );
}

export function passwordChangedEmail(): Email {
  return notice(
    'password-changed',
    'Your password was changed',
    'The password of your account was changed. Your other signed-in devices were signed out.\n\n' +
      'If this was not you, reset your password at once and contact support.\n',
  );
}

export function passwordResetEmail(): Email {
  return notice(
    'password-reset',
    'Your password was reset',
    'The password of your account was reset with a code sent to this address, and every signed-in device was ' +
      'signed out.\n\nIf this was not you, reset your password again at once and contact support.\n',
  );
}

/** To the old address, once the new one is confirmed. */
export function emailChangedEmail(newEmail: string): Email {
  return notice(
    'email-changed',
    'Your email address was changed',
    `The email address of your account was changed to ${newEmail}. This address no longer signs in to it, and your ` +
      'other signed-in devices were signed out.\n\nIf this was not you, contact support at once.\n',
  );
}

export function accountDeletedEmail(): Email {
  return notice(
    'account-deleted',
    'Your account was deleted',
    'Your account and the data tied to it were deleted. This address can be used to sign up again.\n\n' +
      'If you did not expect this, contact support.\n',
  );
}

/** `device`: how a person recognises it, e.g. `Firefox on Windows`; `network`: the address prefix it came from. */
export function newDeviceEmail(device: string, network: string, at: Date): Email {
  return notice(
    'new-device',
    'New sign-in to your account',
    `Your account was signed in to from a device it has not been used on lately: ${device}, from the network ` +
      `${network}, at ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC.\n\n` +
      'If this was you, there is nothing to do. If it was not, change your password, sign out your other sessions ' +
      'and contact support.\n',
  );
}

/** The message as sent: APP_NAME names the sender in the subject and at the end of both bodies. */
export function branded(appName: string, email: Email): Email {
  return {
    kind: email.kind,
    subject: `${appName}: ${email.subject}`,
    text: `${email.text.trimEnd()}\n\n— ${appName}\n`,
    html: `${email.html}<p>— ${escapeHtml(appName)}</p>`,
  };
}
