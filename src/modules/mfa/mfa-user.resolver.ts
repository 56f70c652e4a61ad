// The second-factor fields of User: whether MFA is on for anyone who may see the user; the factors and the count of
// recovery codes only for the user themself or a caller with users:read.
import { Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { ForbiddenError } from '../../common/errors';
import type { GraphQLContext } from '../../common/request-context';
import { Scope } from '../../common/roles';
import { UserView } from '../users/user.types';
import { MfaService } from './mfa.service';
import { MfaFactorView, toFactorView } from './mfa.types';

@Resolver(() => UserView)
export class MfaUserResolver {
  constructor(private readonly mfa: MfaService) {}

  @FieldResolver(() => [MfaFactorView], {
    description: "The user's second factors. The user's own, or scope users:read.",
  })
  async mfaFactors(@Root() user: UserView, @Ctx() ctx: GraphQLContext): Promise<MfaFactorView[]> {
    await this.assertMayRead(user, ctx);
    return (await this.mfa.factorsOf(ctx.em, user.id)).map(toFactorView);
  }

  @FieldResolver(() => Boolean, {
    description: 'True once a TOTP or passkey factor is confirmed: every sign-in then needs a second factor.',
  })
  mfaEnabled(@Root() user: UserView, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return this.mfa.isEnabled(ctx.em, user.id);
  }

  @FieldResolver(() => Int, { description: "Unused recovery codes left. The user's own, or scope users:read." })
  async recoveryCodesLeft(@Root() user: UserView, @Ctx() ctx: GraphQLContext): Promise<number> {
    await this.assertMayRead(user, ctx);
    return this.mfa.recoveryCodesLeft(ctx.em, user.id);
  }

  private async assertMayRead(user: UserView, ctx: GraphQLContext): Promise<void> {
    if (user.viewerIsSelf) return;
    const principal = await ctx.auth();
    if (principal.user.id !== user.id && !principal.scopes.includes(Scope.USERS_READ)) {
      throw new ForbiddenError([[Scope.USERS_READ]]);
    }
  }
}
