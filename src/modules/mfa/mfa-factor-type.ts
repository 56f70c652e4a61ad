// The kinds of second factor, as the GraphQL enum MfaFactorType.
import { registerEnumType } from 'type-graphql';

export enum MfaFactorType {
  TOTP = 'TOTP',
  PASSKEY = 'PASSKEY',
}

registerEnumType(MfaFactorType, { name: 'MfaFactorType' });

/** What MFA_REQUIRED lists in `factors`: the kinds a user can finish a sign-in with. */
export type SecondFactorKind = MfaFactorType | 'RECOVERY_CODE';
