// Enrolling and managing second factors: TOTP, passkeys, recovery codes, and an admin's reset. Each one call into
// MfaService; the step-up requirements are declared here (@requiresAssurance) and enforced by the shield.
import { Arg, Args, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { BadUserInputError } from '../../common/errors';
import type { GraphQLContext } from '../../common/request-context';
import { RequiresAssurance, RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { CONTROL, checkUuid } from '../../common/validation';
import { toUserView, UserView } from '../users/user.types';
import { MfaService } from './mfa.service';
import {
  ConfirmTotpArgs,
  FinishPasskeyRegistrationArgs,
  toChallengeView,
  TotpEnrollmentView,
  WebAuthnChallengeView,
} from './mfa.types';
import { PasskeyService } from './passkeys.service';
import { User } from '../users/user.entity';

const NAME_MAX = 64;

function factorName(raw: string | null | undefined): string | null {
  if (raw == null || raw.trim() === '') return null;
  const name = raw.trim();
  if (name.length > NAME_MAX || CONTROL.test(name)) {
    throw new BadUserInputError('name', [`at most ${NAME_MAX} characters, no control characters`]);
  }
  return name;
}

@Resolver()
export class MfaResolver {
  constructor(
    private readonly mfa: MfaService,
    private readonly passkeys: PasskeyService,
  ) {}

  @Mutation(() => TotpEnrollmentView, {
    description: 'Scope self:write, recent authentication. Begins a TOTP factor (unconfirmed until confirmTotp).',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  @RequiresAssurance(1)
  async enrollTotp(
    @Arg('name', () => String, { nullable: true }) name: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TotpEnrollmentView> {
    const { user } = await ctx.auth();
    return this.mfa.enrollTotp(ctx.em, user.id, factorName(name));
  }

  @Mutation(() => [String], {
    description:
      'Scope self:write. Confirms the factor with a current code. The first confirmed factor turns MFA on\n' +
      'and returns 10 recovery codes, shown only this once (later factors return an empty list).',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  async confirmTotp(
    @Args(() => ConfirmTotpArgs) { factorId, code }: ConfirmTotpArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<string[]> {
    const { user, sessionId } = await ctx.auth();
    return this.mfa.confirmTotp(ctx.em, user.id, sessionId, checkUuid(factorId, 'factorId'), code, ctx.client);
  }

  @Mutation(() => WebAuthnChallengeView, {
    description: 'Scope self:write, recent authentication. Begins adding a passkey to the signed-in account.',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  @RequiresAssurance(1)
  async startPasskeyRegistration(@Ctx() ctx: GraphQLContext): Promise<WebAuthnChallengeView> {
    const { user } = await ctx.auth();
    const ceremony = await this.passkeys.startRegistration(ctx.em, await ctx.em.findOneOrFail(User, user.id));
    await ctx.em.flush();
    return toChallengeView(ceremony);
  }

  @Mutation(() => [String], {
    description:
      "Scope self:write. Finishes it with the browser's RegistrationResponseJSON; returns the recovery codes as confirmTotp does.",
  })
  @RequiresScopes(Scope.SELF_WRITE)
  async finishPasskeyRegistration(
    @Args(() => FinishPasskeyRegistrationArgs) { challengeId, response, name }: FinishPasskeyRegistrationArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<string[]> {
    const { user, sessionId } = await ctx.auth();
    const id = checkUuid(challengeId, 'challengeId');
    return this.mfa.addPasskey(ctx.em, user.id, sessionId, id, response, factorName(name ?? null), ctx.client);
  }

  @Mutation(() => Boolean, {
    description: 'Scope self:write, recent authentication at level 2. Removing the last factor turns MFA off.',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  @RequiresAssurance(2)
  async removeMfaFactor(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    const { user } = await ctx.auth();
    return this.mfa.removeFactor(ctx.em, user.id, checkUuid(id, 'id'), ctx.client);
  }

  @Mutation(() => [String], {
    description: 'Scope self:write, recent authentication at level 2. Replaces all recovery codes; returns the new 10.',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  @RequiresAssurance(2)
  async regenerateRecoveryCodes(@Ctx() ctx: GraphQLContext): Promise<string[]> {
    const { user } = await ctx.auth();
    return this.mfa.regenerateRecoveryCodes(ctx.em, user.id, ctx.client);
  }

  @Mutation(() => UserView, {
    description:
      'Scope users:write, recent authentication at level 2. Removes every factor and recovery code of the user.',
  })
  @RequiresScopes(Scope.USERS_WRITE)
  @RequiresAssurance(2)
  async resetUserMfa(@Arg('userId', () => ID) userId: string, @Ctx() ctx: GraphQLContext): Promise<UserView> {
    const { user: admin } = await ctx.auth();
    const id = checkUuid(userId, 'userId');
    const user = await ctx.em.findOne(User, id);
    if (user === null) throw new BadUserInputError('userId', ['no user has this id']);
    return toUserView(await this.mfa.reset(ctx.em, id, admin.id, ctx.client));
  }
}
