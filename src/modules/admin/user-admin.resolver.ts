// Administration of users: list, look up, change roles, (de)activate. Each one call into UserAdminService.
import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { pageInfo } from '../../common/page-info.types';
import { RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { SetUserActiveArgs, SetUserRolesArgs, UserConnection, USERS_PAGE_DEFAULT, UsersArgs } from './user-admin.types';
import { UserAdminService, type Actor } from './user-admin.service';
import { toUserView, UserView } from '../users/user.types';
import type { GraphQLContext } from '../../common/request-context';
import { checkUuid } from '../../common/validation';

async function actorOf(ctx: GraphQLContext): Promise<Actor> {
  return { userId: (await ctx.auth()).user.id, client: ctx.client };
}

@Resolver()
export class UserAdminResolver {
  constructor(private readonly admin: UserAdminService) {}

  @Query(() => UserConnection, { description: 'Scope users:read.' })
  @RequiresScopes(Scope.USERS_READ)
  async users(
    @Args(() => UsersArgs) { first, after, filter }: UsersArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserConnection> {
    const page = await this.admin.list(ctx.em, filter ?? {}, first ?? USERS_PAGE_DEFAULT, after);
    return {
      edges: page.items.map(({ node, cursor }) => ({ cursor, node: toUserView(node) })),
      pageInfo: pageInfo(page.items, page.hasNextPage),
      totalCount: page.totalCount,
    };
  }

  @Query(() => UserView, { nullable: true, description: 'Scope users:read.' })
  @RequiresScopes(Scope.USERS_READ)
  async user(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<UserView | null> {
    const user = await this.admin.get(ctx.em, checkUuid(id, 'id'));
    return user && toUserView(user);
  }

  @Mutation(() => UserView, {
    description: 'Scope roles:write. A user keeps at least one role; the last ADMIN cannot lose ADMIN.',
  })
  @RequiresScopes(Scope.ROLES_WRITE)
  async setUserRoles(
    @Args(() => SetUserRolesArgs) { userId, roles }: SetUserRolesArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserView> {
    return toUserView(await this.admin.setRoles(ctx.em, await actorOf(ctx), checkUuid(userId, 'userId'), roles));
  }

  @Mutation(() => UserView, {
    description: 'Scope users:write. Clears the password sign-in lockout of the user.',
  })
  @RequiresScopes(Scope.USERS_WRITE)
  async unlockUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: GraphQLContext): Promise<UserView> {
    return toUserView(await this.admin.unlock(ctx.em, await actorOf(ctx), checkUuid(userId, 'userId')));
  }

  @Mutation(() => UserView, {
    description: 'Scope users:write. Deactivating ends every session of that user at once.',
  })
  @RequiresScopes(Scope.USERS_WRITE)
  async setUserActive(
    @Args(() => SetUserActiveArgs) { userId, active }: SetUserActiveArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserView> {
    return toUserView(await this.admin.setActive(ctx.em, await actorOf(ctx), checkUuid(userId, 'userId'), active));
  }
}
