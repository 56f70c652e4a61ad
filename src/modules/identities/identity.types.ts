// GraphQL types of social sign-in and linked identities.
import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';
import type { Identity } from './identity.entity';

@ObjectType('IdentityProvider', { description: 'A configured external identity provider.' })
export class IdentityProviderView {
  @Field(() => String, {
    description: 'The configuration name: `google`, or the NAME of OIDC_<NAME>_ISSUER in lower case.',
  })
  id!: string;

  @Field(() => String, { description: 'For a sign-in button: `Google`, or OIDC_<NAME>_DISPLAY_NAME.' })
  displayName!: string;
}

@ObjectType('Identity', { description: 'An external account linked to a user: one (issuer, subject) pair.' })
export class IdentityView {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  provider!: string;

  @Field(() => String, { nullable: true, description: "The provider's email for this account, as it last said." })
  email!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}

export function toIdentityView(identity: Identity): IdentityView {
  return Object.assign(new IdentityView(), {
    id: identity.id,
    provider: identity.provider,
    email: identity.email,
    createdAt: identity.createdAt,
    lastUsedAt: identity.lastUsedAt,
  });
}

@ObjectType('SocialSignInStart', { description: 'The answer to `startSocialSignIn` and `startSocialLink`.' })
export class SocialSignInStart {
  @Field(() => String, {
    description: "Send the browser here (the provider's authorization endpoint, with state, nonce and PKCE S256).",
  })
  authorizationUrl!: string;

  @Field(() => Int, { description: 'Seconds the flow stays open.' })
  expiresIn!: number;
}

@ArgsType()
export class StartSocialArgs {
  @Field(() => String)
  provider!: string;

  @Field(() => String)
  redirectUri!: string;

  @Field(() => String)
  codeChallenge!: string;
}

@ArgsType()
export class CompleteSocialArgs {
  @Field(() => String)
  code!: string;

  @Field(() => String)
  codeVerifier!: string;
}

@ArgsType()
export class IdTokenArgs {
  @Field(() => String)
  provider!: string;

  @Field(() => String)
  idToken!: string;

  @Field(() => String, { nullable: true })
  nonce?: string | null;
}
