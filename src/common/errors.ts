// The contract's error codes (docs/contract.md), defined once and thrown as GraphQLError subclasses.
import { GraphQLError } from 'graphql';

export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  EMAIL_NOT_VERIFIED: 'EMAIL_NOT_VERIFIED',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  INVALID_OTP: 'INVALID_OTP',
  ACCOUNT_DISABLED: 'ACCOUNT_DISABLED',
  RATE_LIMITED: 'RATE_LIMITED',
  IDENTITY_CONFLICT: 'IDENTITY_CONFLICT',
  MFA_REQUIRED: 'MFA_REQUIRED',
  STEP_UP_REQUIRED: 'STEP_UP_REQUIRED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error whose message and extensions are safe to show to the client. */
export class PortcullisError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
  }
}

export class UnauthenticatedError extends PortcullisError {
  constructor(message = 'Not signed in, or the access token is not valid') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ForbiddenError extends PortcullisError {
  constructor(requiredScopes: string[][]) {
    super(ErrorCode.FORBIDDEN, 'Missing a required scope', { requiredScopes });
  }
}

export class BadUserInputError extends PortcullisError {
  constructor(field: string, reasons: string[]) {
    super(ErrorCode.BAD_USER_INPUT, `Invalid ${field}: ${reasons.join('; ')}`, { field, reasons });
  }
}

export class EmailNotVerifiedError extends PortcullisError {
  constructor() {
    super(ErrorCode.EMAIL_NOT_VERIFIED, 'The email address is not verified yet');
  }
}

export class InvalidCredentialsError extends PortcullisError {
  constructor(message = 'Wrong email or password') {
    super(ErrorCode.INVALID_CREDENTIALS, message);
  }
}

export class InvalidOtpError extends PortcullisError {
  constructor(message = 'The code is wrong, expired or already used') {
    super(ErrorCode.INVALID_OTP, message);
  }
}

export class AccountDisabledError extends PortcullisError {
  constructor() {
    super(ErrorCode.ACCOUNT_DISABLED, 'This account is disabled');
  }
}

export class RateLimitedError extends PortcullisError {
  constructor(retryAfterSeconds: number) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
    super(ErrorCode.RATE_LIMITED, `Too many requests; retry in ${retryAfter} s`, { retryAfter });
  }
}

export class IdentityConflictError extends PortcullisError {
  constructor() {
    super(
      ErrorCode.IDENTITY_CONFLICT,
      'An account with this email exists and the provider has not verified the email: sign in to that account and link the provider from there',
    );
  }
}

/** A first factor was right for a user with MFA on: no session yet; finish with verifyMfa and the ticket. */
export class MfaRequiredError extends PortcullisError {
  constructor(extensions: { mfaTicket: string; factors: string[]; passkeyChallenge?: unknown }) {
    super(ErrorCode.MFA_REQUIRED, 'A second factor is required: call verifyMfa with the mfaTicket', extensions);
  }
}

/** The operation needs a more recent authentication (or level 2) than the current session has. */
export class StepUpRequiredError extends PortcullisError {
  constructor(maxAge: number, level: number) {
    super(
      ErrorCode.STEP_UP_REQUIRED,
      level === 2
        ? `This operation needs a second factor proven in the last ${maxAge} s: call reauthenticate`
        : `This operation needs an authentication in the last ${maxAge} s: call reauthenticate`,
      { maxAge, level },
    );
  }
}
