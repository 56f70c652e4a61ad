// The arguments of the second-factor sign-in mutations, in the contract's order.
import { ArgsType, Field, ID } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';

@ArgsType()
export class VerifyMfaArgs {
  @Field(() => String)
  ticket!: string;

  @Field(() => String, { nullable: true })
  code?: string | null;

  @Field(() => String, { nullable: true })
  recoveryCode?: string | null;

  @Field(() => GraphQLJSON, { nullable: true })
  passkey?: unknown;
}

@ArgsType()
export class FinishPasskeySignInArgs {
  @Field(() => ID)
  challengeId!: string;

  @Field(() => GraphQLJSON)
  response!: unknown;
}

@ArgsType()
export class ReauthenticateArgs {
  @Field(() => String, { nullable: true })
  password?: string | null;

  @Field(() => String, { nullable: true })
  code?: string | null;

  @Field(() => String, { nullable: true })
  recoveryCode?: string | null;

  @Field(() => GraphQLJSON, { nullable: true })
  passkey?: unknown;
}
