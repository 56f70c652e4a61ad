// The signed-in user's sessions: list them, end one.
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { AssuranceView, SessionView } from './session.types';
import { levelOf } from '../../common/assurance';
import { SessionService } from './session.service';
import type { GraphQLContext } from '../../common/request-context';
import { checkUuid } from '../../common/validation';

@Resolver()
export class SessionResolver {
  constructor(private readonly sessionService: SessionService) {}

  @Query(() => [SessionView], { description: "The signed-in user's active sessions." })
  @RequiresScopes(Scope.SELF_READ)
  async sessions(@Ctx() ctx: GraphQLContext): Promise<SessionView[]> {
    const principal = await ctx.auth();
    const sessions = await this.sessionService.listLive(ctx.em, principal.user.id);
    return sessions.map((s) => ({
      id: s.id,
      createdAt: s.createdAt,
      lastUsedAt: s.lastUsedAt,
      expiresAt: s.expiresAt,
      userAgent: s.userAgent,
      ip: s.ip,
      current: s.id === principal.sessionId,
    }));
  }

  @Query(() => AssuranceView, { description: 'Scope self:read. How the current session was authenticated.' })
  @RequiresScopes(Scope.SELF_READ)
  async assurance(@Ctx() ctx: GraphQLContext): Promise<AssuranceView> {
    const { claims } = await ctx.auth();
    return { level: levelOf(claims.acr), methods: [...claims.amr], authenticatedAt: new Date(claims.authTime * 1000) };
  }

  @Mutation(() => Boolean, {
    description:
      "Ends one of the signed-in user's own sessions. False when it is not one of theirs or has already ended.",
  })
  @RequiresScopes(Scope.SELF_WRITE)
  async revokeSession(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    const principal = await ctx.auth();
    return this.sessionService.revokeOwn(ctx.em, principal.user.id, checkUuid(id, 'id'), ctx.client);
  }
}
