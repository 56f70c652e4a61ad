// The signed-in user.
import { Ctx, Query, Resolver } from 'type-graphql';
import { RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { toUserView, UserView } from './user.types';
import type { GraphQLContext } from '../../common/request-context';

@Resolver()
export class UserResolver {
  @Query(() => UserView, {
    description: 'The signed-in user. UNAUTHENTICATED without a valid, unrevoked access token.',
  })
  @RequiresScopes(Scope.SELF_READ)
  async me(@Ctx() ctx: GraphQLContext): Promise<UserView> {
    return toUserView((await ctx.auth()).user);
  }
}
