// The GraphQL views of second factors and WebAuthn ceremonies. No secret has a field here except the TOTP secret
// in the one answer that shows it (enrollTotp).
import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { MfaFactorType } from './mfa-factor-type';
import type { MfaFactor } from './mfa-factor.entity';
import type { Ceremony } from './passkeys.service';

@ObjectType('MfaFactor')
export class MfaFactorView {
  @Field(() => ID)
  id!: string;

  @Field(() => MfaFactorType)
  type!: MfaFactorType;

  @Field(() => String, { nullable: true, description: "The user's own label (`Phone`, `YubiKey`)." })
  name!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}

export function toFactorView(f: MfaFactor): MfaFactorView {
  return { id: f.id, type: f.type, name: f.name, createdAt: f.createdAt, lastUsedAt: f.lastUsedAt };
}

@ObjectType('TotpEnrollment', {
  description: 'The answer to `enrollTotp`: show `qrCodeSvg` (or `secret` for manual entry), then call `confirmTotp`.',
})
export class TotpEnrollmentView {
  @Field(() => ID)
  factorId!: string;

  @Field(() => String, { description: 'otpauth://totp/… (SHA1, 6 digits, 30 s), issuer APP_NAME.' })
  otpauthUri!: string;

  @Field(() => String, { description: 'Base32 secret, for manual entry.' })
  secret!: string;

  @Field(() => String, { description: 'An SVG image of the otpauth URI as a QR code.' })
  qrCodeSvg!: string;
}

@ObjectType('WebAuthnChallenge', {
  description:
    'A WebAuthn ceremony begun by Portcullis; pass `options` to @simplewebauthn/browser or navigator.credentials.',
})
export class WebAuthnChallengeView {
  @Field(() => ID)
  challengeId!: string;

  @Field(() => GraphQLJSON, {
    description: 'PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON.',
  })
  options!: Record<string, unknown>;

  @Field(() => Int)
  expiresIn!: number;
}

export function toChallengeView(c: Ceremony): WebAuthnChallengeView {
  return { challengeId: c.challengeId, options: c.options, expiresIn: c.expiresIn };
}

@ArgsType()
export class ConfirmTotpArgs {
  @Field(() => ID)
  factorId!: string;

  @Field(() => String)
  code!: string;
}

@ArgsType()
export class FinishPasskeyRegistrationArgs {
  @Field(() => ID)
  challengeId!: string;

  @Field(() => GraphQLJSON)
  response!: unknown;

  @Field(() => String, { nullable: true })
  name?: string | null;
}
