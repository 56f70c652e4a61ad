// Second factors and passkeys in sign-in: verifyMfa, passkey sign-in, and reauthenticate (step-up). Each one call
// into SecondFactorService; tokens reach the client through deliver() like every other sign-in.
import { Arg, Args, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../common/request-context';
import { RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { checkUuid } from '../../common/validation';
import { toChallengeView, WebAuthnChallengeView } from '../mfa/mfa.types';
import { AuthPayload } from './auth.types';
import { deliver } from './deliver-tokens';
import { SecondFactorService } from './second-factor.service';
import { FinishPasskeySignInArgs, ReauthenticateArgs, VerifyMfaArgs } from './second-factor.types';

@Resolver()
export class SecondFactorResolver {
  constructor(private readonly secondFactor: SecondFactorService) {}

  @Mutation(() => AuthPayload, {
    description:
      'Public. Finishes a sign-in that answered MFA_REQUIRED: exactly one of `code` (TOTP), `recoveryCode`\n' +
      "or `passkey` (an AuthenticationResponseJSON for the challenge in the error's `passkeyChallenge`).",
  })
  async verifyMfa(
    @Args(() => VerifyMfaArgs) { ticket, code, recoveryCode, passkey }: VerifyMfaArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    const payload = await this.secondFactor.verifyMfa(ctx.em, ticket, { code, recoveryCode, passkey }, ctx.client);
    return deliver(ctx, payload);
  }

  @Mutation(() => WebAuthnChallengeView, {
    description:
      "Public. Begins a passkey sign-in; `email` narrows it to that account's passkeys (omit for discoverable credentials). Same answer shape for an unknown email.",
  })
  async startPasskeySignIn(
    @Arg('email', () => String, { nullable: true }) email: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebAuthnChallengeView> {
    return toChallengeView(await this.secondFactor.startPasskeySignIn(ctx.em, email));
  }

  @Mutation(() => AuthPayload, { description: "Public. Finishes it with the browser's AuthenticationResponseJSON." })
  async finishPasskeySignIn(
    @Args(() => FinishPasskeySignInArgs) { challengeId, response }: FinishPasskeySignInArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    const id = checkUuid(challengeId, 'challengeId');
    return deliver(ctx, await this.secondFactor.finishPasskeySignIn(ctx.em, id, response, ctx.client));
  }

  @Mutation(() => AuthPayload, {
    description:
      'Scope self:read. Proves the user again inside the current session (no new session): exactly one of\n' +
      '`password`, `code` (TOTP), `recoveryCode` or `passkey`. Returns fresh tokens whose `auth_time` is now\n' +
      'and whose level is that of the methods used.',
  })
  @RequiresScopes(Scope.SELF_READ)
  async reauthenticate(
    @Args(() => ReauthenticateArgs) args: ReauthenticateArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    const principal = await ctx.auth();
    return this.secondFactor.reauthenticate(ctx.em, principal, args, ctx.client);
  }

  @Mutation(() => WebAuthnChallengeView, {
    description: 'Scope self:read. Begins a passkey reauthentication for the signed-in user.',
  })
  @RequiresScopes(Scope.SELF_READ)
  async startPasskeyReauthentication(@Ctx() ctx: GraphQLContext): Promise<WebAuthnChallengeView> {
    return toChallengeView(await this.secondFactor.startPasskeyReauthentication(ctx.em, await ctx.auth()));
  }
}
