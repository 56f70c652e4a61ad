// The sign-up, sign-in and sign-out mutations: each one call into AuthService. In cookie mode the refresh
// token is delivered and read here, as the HttpOnly cookie of ctx.refreshCookie, instead of in the payload.
import { Arg, Args, Ctx, Mutation, Resolver } from 'type-graphql';
import { AccountDisabledError, UnauthenticatedError } from '../../common/errors';
import { RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
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
import type { GraphQLContext } from '../../common/request-context';
import { deliver } from './deliver-tokens';

@Resolver()
export class AuthResolver {
  constructor(private readonly auth: AuthService) {}

  @Mutation(() => CodeSent, {
    description:
      'Creates an unverified USER and emails it a VERIFY_EMAIL code; `verifyOtp` then signs it in.\n' +
      'For an email that already has a verified account the answer is the same, the account is untouched\n' +
      'and its owner is emailed a notice instead. The password is set when the code verifies the email. While\n' +
      "an earlier registration's code is live, re-registering sends a code that verifies the email but sets no password.",
  })
  register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: GraphQLContext): Promise<CodeSent> {
    return this.auth.register(ctx.em, input, ctx.client);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Email and password sign-in. INVALID_CREDENTIALS for an unknown email, a wrong password and an account\n' +
      'whose email is not verified yet alike (it has no password until its code verifies it).',
  })
  async login(@Args(() => LoginArgs) { email, password }: LoginArgs, @Ctx() ctx: GraphQLContext): Promise<AuthPayload> {
    return deliver(ctx, await this.auth.login(ctx.em, email, password, ctx.client));
  }

  @Mutation(() => CodeSent, {
    description: 'Emails a 6-digit code for `purpose`. Same answer for unknown emails (and then nothing is sent).',
  })
  requestOtp(
    @Args(() => RequestOtpArgs) { email, purpose }: RequestOtpArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CodeSent> {
    return this.auth.requestOtp(ctx.em, email, purpose, ctx.client);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Consumes a LOGIN or VERIFY_EMAIL code and signs the user in (VERIFY_EMAIL also marks the email verified).',
  })
  async verifyOtp(
    @Args(() => VerifyOtpArgs) { email, code, purpose }: VerifyOtpArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return deliver(ctx, await this.auth.verifyOtp(ctx.em, email, code, purpose, ctx.client));
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
  async refresh(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null | undefined,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    const token = chooseRefreshToken(ctx, refreshToken);
    return deliver(ctx, await clearIfDead(token, this.auth.refresh(ctx.em, token.value, ctx.client)));
  }

  @Mutation(() => Boolean, {
    description: 'Ends one session: the one of `refreshToken` if given, else the one of the access token.',
  })
  async logout(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null | undefined,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    const token = chooseRefreshToken(ctx, refreshToken);
    const ended = await clearIfDead(
      token,
      this.auth.logout(ctx.em, token.value, () => ctx.auth(), ctx.client),
    );
    token.clearCookie?.();
    return ended;
  }

  @Mutation(() => Boolean, { description: 'Ends every session of the signed-in user.' })
  @RequiresScopes(Scope.SELF_WRITE)
  async logoutAll(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    const ended = await this.auth.logoutAll(ctx.em, await ctx.auth(), ctx.client);
    ctx.refreshCookie?.clear();
    return ended;
  }

  @Mutation(() => Boolean, {
    description:
      'Requires the current password (wrong ones count toward the sign-in lockout); ends every other session.',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  async changePassword(
    @Args(() => ChangePasswordArgs) { currentPassword, newPassword }: ChangePasswordArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return this.auth.changePassword(ctx.em, await ctx.auth(), currentPassword, newPassword, ctx.client);
  }
}

/** The refresh token an operation acts on; `clearCookie` is set when it came from (or equals) the cookie. */
interface ChosenToken {
  readonly value: string | null;
  readonly clearCookie: (() => void) | null;
}

/** The argument when given (it wins), else in cookie mode the cookie's token. */
function chooseRefreshToken(ctx: GraphQLContext, argument: string | null | undefined): ChosenToken {
  const cookie = ctx.refreshCookie;
  const fromCookie = cookie?.read() ?? null;
  const value = argument ?? fromCookie;
  return {
    value,
    clearCookie: cookie !== null && value !== null && value === fromCookie ? () => cookie.clear() : null,
  };
}

/** Clears the cookie when its token was refused for good (unknown, replayed, expired, revoked, or a disabled account). */
async function clearIfDead<T>(token: ChosenToken, operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    if (err instanceof UnauthenticatedError || err instanceof AccountDisabledError) token.clearCookie?.();
    throw err;
  }
}
