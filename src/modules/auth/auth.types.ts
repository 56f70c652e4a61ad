// GraphQL types of the sign-in flows.
import { ArgsType, Field, InputType, Int, ObjectType } from 'type-graphql';
import { OtpPurpose } from '../otp/otp-purpose';
import { UserView } from '../users/user.types';

@ObjectType('AuthPayload', { description: 'Returned by every operation that signs a user in.' })
export class AuthPayload {
  @Field(() => String, { description: 'JWT access token; send as `Authorization: Bearer <token>`.' })
  accessToken!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Opaque refresh token; null only when the server delivers it as an httpOnly cookie instead.',
  })
  refreshToken!: string | null;

  @Field(() => String, { description: 'Always `Bearer`.' })
  tokenType!: string;

  @Field(() => Int, { description: 'Seconds until `accessToken` expires.' })
  expiresIn!: number;

  @Field(() => UserView)
  user!: UserView;
}

@ObjectType('CodeSent', {
  description:
    'The answer to `register` and `requestOtp`. It is the same whether or not the email belongs to an account.',
})
export class CodeSent {
  @Field(() => Int, { description: 'Seconds a code stays valid.' })
  expiresIn!: number;

  @Field(() => Int, { description: 'Seconds before another code may be requested for the same email and purpose.' })
  retryAfter!: number;
}

@InputType('RegisterInput')
export class RegisterInput {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  password!: string;

  @Field(() => String, { nullable: true })
  fullName?: string | null;
}

@ArgsType()
export class LoginArgs {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  password!: string;
}

@ArgsType()
export class RequestOtpArgs {
  @Field(() => String)
  email!: string;

  @Field(() => OtpPurpose)
  purpose!: OtpPurpose;
}

@ArgsType()
export class VerifyOtpArgs {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  code!: string;

  @Field(() => OtpPurpose)
  purpose!: OtpPurpose;
}

@ArgsType()
export class ResetPasswordArgs {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  code!: string;

  @Field(() => String)
  newPassword!: string;
}

@ArgsType()
export class ChangePasswordArgs {
  @Field(() => String)
  currentPassword!: string;

  @Field(() => String)
  newPassword!: string;
}
