// The signed-in user.
import { Ctx, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../server/context';
import { toUserView, UserView } from './user.types';

@Resolver()
export class UserResolver {
  @Query(() => UserView, {
    description: 'The signed-in user. UNAUTHENTICATED without a valid, unrevoked access token.',
  })
  async me(@Ctx() ctx: GraphQLContext): Promise<UserView> {
    return toUserView((await ctx.auth()).user);
  }
}
