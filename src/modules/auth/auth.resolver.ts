// The sign-up, sign-in and sign-out mutations: each one call into AuthService.
import { Arg, Args, Ctx, Mutation, Resolver } from 'type-graphql';
import { RequiresScopes } from '../../permissions/directives';
import { Scope } from '../../permissions/roles';
import type { GraphQLContext } from '../../server/context';
import { AuthService } from './auth.service';
import {
  AuthPayload,
  ChangePasswordArgs,
  CodeSent,
  LoginArgs,
  RegisterInput,
  RequestOtpArgs,
  ResetPasswordArgs,
  VerifyOtpArgs,
} from './auth.types';

@Resolver()
export class AuthResolver {
  constructor(private readonly auth: AuthService) {}

  @Mutation(() => CodeSent, {
    description:
      'Creates an unverified USER and emails it a VERIFY_EMAIL code; `verifyOtp` then signs it in.\n' +
      'For an email that already has a verified account the answer is the same, the account is untouched\n' +
      'and its owner is emailed a notice instead. Re-registering a still-unverified email replaces its\n' +
      'pending password and sends a fresh code.',
  })
  register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: GraphQLContext): Promise<CodeSent> {
    return this.auth.register(ctx.em, input, ctx.client);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Email and password sign-in. INVALID_CREDENTIALS for an unknown email or a wrong password alike;\n' +
      'EMAIL_NOT_VERIFIED (only with the right password) until the email is verified.',
  })
  login(@Args(() => LoginArgs) { email, password }: LoginArgs, @Ctx() ctx: GraphQLContext): Promise<AuthPayload> {
    return this.auth.login(ctx.em, email, password, ctx.client);
  }

  @Mutation(() => CodeSent, {
    description: 'Emails a 6-digit code for `purpose`. Same answer for unknown emails (and then nothing is sent).',
  })
  requestOtp(@Args(() => RequestOtpArgs) { email, purpose }: RequestOtpArgs, @Ctx() ctx: GraphQLContext): Promise<CodeSent> {
    return this.auth.requestOtp(ctx.em, email, purpose, ctx.client);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Consumes a LOGIN or VERIFY_EMAIL code and signs the user in (VERIFY_EMAIL also marks the email verified).',
  })
  verifyOtp(
    @Args(() => VerifyOtpArgs) { email, code, purpose }: VerifyOtpArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return this.auth.verifyOtp(ctx.em, email, code, purpose, ctx.client);
  }

  @Mutation(() => Boolean, {
    description: 'Consumes a RESET_PASSWORD code, sets the new password and ends every session of the user.',
  })
  resetPassword(
    @Args(() => ResetPasswordArgs) { email, code, newPassword }: ResetPasswordArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return this.auth.resetPassword(ctx.em, email, code, newPassword, ctx.client);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Rotates the refresh token: the old one stops working. Replaying a retired token after the grace\n' +
      'window ends the whole session; within it, the replay gets the same new refresh token back.',
  })
  refresh(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return this.auth.refresh(ctx.em, refreshToken, ctx.client);
  }

  @Mutation(() => Boolean, {
    description: 'Ends one session: the one of `refreshToken` if given, else the one of the access token.',
  })
  logout(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return this.auth.logout(ctx.em, refreshToken, () => ctx.auth(), ctx.client);
  }

  @Mutation(() => Boolean, { description: 'Ends every session of the signed-in user.' })
  @RequiresScopes(Scope.SELF_WRITE)
  async logoutAll(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    return this.auth.logoutAll(ctx.em, await ctx.auth(), ctx.client);
  }

  @Mutation(() => Boolean, { description: 'Requires the current password; ends every other session of the user.' })
  @RequiresScopes(Scope.SELF_WRITE)
  async changePassword(
    @Args(() => ChangePasswordArgs) { currentPassword, newPassword }: ChangePasswordArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return this.auth.changePassword(ctx.em, await ctx.auth(), currentPassword, newPassword, ctx.client);
  }
}
