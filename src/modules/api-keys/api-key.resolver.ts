// The signed-in user's API keys: list, create (recent authentication), revoke. Each one call into ApiKeyService.
import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../common/request-context';
import { RequiresAssurance, RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { checkUuid } from '../../common/validation';
import { ApiKeyService } from './api-key.service';
import { ApiKeyCreatedView, ApiKeyView, CreateApiKeyArgs, toApiKeyView } from './api-key.types';

@Resolver()
export class ApiKeyResolver {
  constructor(private readonly service: ApiKeyService) {}

  @Query(() => [ApiKeyView], { description: "Scope self:read. The signed-in user's API keys (never their secrets)." })
  @RequiresScopes(Scope.SELF_READ)
  async apiKeys(@Ctx() ctx: GraphQLContext): Promise<ApiKeyView[]> {
    const { user } = await ctx.auth();
    return (await this.service.list(ctx.em, user.id)).map(toApiKeyView);
  }

  @Mutation(() => ApiKeyCreatedView, {
    description:
      "Scope self:write, recent authentication. `scopes` must be a subset of the user's own scopes;\n" +
      '`expiresIn` in seconds (omit for a key that never expires).',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  @RequiresAssurance(1)
  async createApiKey(
    @Args(() => CreateApiKeyArgs) { name, scopes, expiresIn }: CreateApiKeyArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ApiKeyCreatedView> {
    const created = await this.service.create(ctx.em, await ctx.auth(), name, scopes, expiresIn, ctx.client);
    return { apiKey: toApiKeyView(created.apiKey), secret: created.secret };
  }

  @Mutation(() => Boolean, { description: 'Scope self:write. Ends a key at once, on every instance.' })
  @RequiresScopes(Scope.SELF_WRITE)
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    const { user } = await ctx.auth();
    return this.service.revoke(ctx.em, user.id, checkUuid(id, 'id'), ctx.client);
  }
}
