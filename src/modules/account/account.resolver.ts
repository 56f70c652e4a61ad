// The account's own life: change of email, deletion (by the holder or an admin) and the data export.
import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Clock } from '../../common/clock';
import type { GraphQLContext } from '../../common/request-context';
import { RequiresAssurance, RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { checkUuid } from '../../common/validation';
import { CodeSent } from '../auth/auth.types';
import { toUserView, UserView } from '../users/user.types';
import { exportAccount } from './account-export';
import { AccountDeletionService } from './account-deletion.service';
import { EmailChangeService } from './email-change.service';

@Resolver()
export class AccountResolver {
  constructor(
    private readonly emailChange: EmailChangeService,
    private readonly deletion: AccountDeletionService,
    private readonly clock: Clock,
  ) {}

  @Mutation(() => CodeSent, {
    description:
      'Scope self:write, recent authentication. Emails a CHANGE_EMAIL code to `newEmail` (same answer if it is taken).',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  @RequiresAssurance(1)
  async requestEmailChange(
    @Arg('newEmail', () => String) newEmail: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CodeSent> {
    return this.emailChange.request(ctx.em, await ctx.auth(), newEmail, ctx.client);
  }

  @Mutation(() => UserView, {
    description:
      "Scope self:write. Consumes the code: the account's email becomes the new one; the old address gets a notice.",
  })
  @RequiresScopes(Scope.SELF_WRITE)
  async confirmEmailChange(@Arg('code', () => String) code: string, @Ctx() ctx: GraphQLContext): Promise<UserView> {
    return toUserView(await this.emailChange.confirm(ctx.em, await ctx.auth(), code, ctx.client));
  }

  @Mutation(() => Boolean, {
    description:
      'Scope self:write, recent authentication. Deletes the account and everything tied to it; the address gets a notice.',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  @RequiresAssurance(1)
  async deleteAccount(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    const { user } = await ctx.auth();
    await this.deletion.delete(ctx.em, { userId: user.id, client: ctx.client }, user.id, 'account');
    return true;
  }

  @Mutation(() => Boolean, {
    description:
      "Scope users:write, recent authentication at level 2. Deletes another user's account (never the last active ADMIN).",
  })
  @RequiresScopes(Scope.USERS_WRITE)
  @RequiresAssurance(2)
  async deleteUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    const { user } = await ctx.auth();
    await this.deletion.delete(ctx.em, { userId: user.id, client: ctx.client }, checkUuid(userId, 'userId'), 'userId');
    return true;
  }

  @Query(() => GraphQLJSON, {
    description:
      'Scope self:read. Everything Portcullis holds about the signed-in user, as one JSON document (no secrets).',
  })
  @RequiresScopes(Scope.SELF_READ)
  async myData(@Ctx() ctx: GraphQLContext): Promise<object> {
    return exportAccount(ctx.em, await ctx.auth(), this.clock);
  }
}
