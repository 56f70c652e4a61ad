// The signed-in user.
import { Ctx, Query, Resolver } from 'type-graphql';
import { RequiresScopes } from '../../permissions/directives';
import { Scope } from '../../permissions/roles';
import type { GraphQLContext } from '../../server/context';
import { toUserView, UserView } from './user.types';

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
