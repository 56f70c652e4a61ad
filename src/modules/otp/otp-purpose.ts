// What a one-time code is for.
import { registerEnumType } from 'type-graphql';

export enum OtpPurpose {
  LOGIN = 'LOGIN',
  VERIFY_EMAIL = 'VERIFY_EMAIL',
  RESET_PASSWORD = 'RESET_PASSWORD',
  /** Issued only by requestEmailChange, to the new address; consumed by confirmEmailChange. */
  CHANGE_EMAIL = 'CHANGE_EMAIL',
}

registerEnumType(OtpPurpose, {
  name: 'OtpPurpose',
  description: 'What a one-time code is for. A code is only accepted for the purpose it was issued for.',
});
