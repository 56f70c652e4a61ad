// Reading the audit trail: everyone's (users:read) or one's own (self:read). Newest first.
import { Args, Ctx, Query, Resolver } from 'type-graphql';
import { pageInfo } from '../../common/page-info.types';
import type { Page } from '../../common/pagination';
import { RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import type { AuditEvent } from './audit-event.entity';
import { AuditService } from './audit.service';
import {
  AUDIT_PAGE_DEFAULT,
  AuditEventConnection,
  AuditEventsArgs,
  MY_AUDIT_PAGE_DEFAULT,
  MyAuditEventsArgs,
} from './audit.types';
import type { GraphQLContext } from '../../common/request-context';
import { checkUuid } from '../../common/validation';

function toConnection(page: Page<AuditEvent>): AuditEventConnection {
  return {
    edges: page.items.map(({ node, cursor }) => ({
      cursor,
      node: {
        id: node.id,
        type: node.type,
        actorId: node.actorUserId,
        userId: node.subjectUserId,
        email: node.email,
        ip: node.ip,
        userAgent: node.userAgent,
        detail: node.detail,
        createdAt: node.createdAt,
      },
    })),
    pageInfo: pageInfo(page.items, page.hasNextPage),
    totalCount: page.totalCount,
  };
}

@Resolver()
export class AuditResolver {
  constructor(private readonly audit: AuditService) {}

  @Query(() => AuditEventConnection, { description: 'Scope users:read. Filter by the subject user and event type.' })
  @RequiresScopes(Scope.USERS_READ)
  async auditEvents(
    @Args(() => AuditEventsArgs) args: AuditEventsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuditEventConnection> {
    const filter = {
      ...(args.userId ? { subjectUserId: checkUuid(args.userId, 'userId') } : {}),
      ...(args.type ? { type: args.type } : {}),
    };
    return toConnection(await this.audit.list(ctx.em, filter, args.first ?? AUDIT_PAGE_DEFAULT, args.after));
  }

  @Query(() => AuditEventConnection, { description: "The signed-in user's own audit events. Scope self:read." })
  @RequiresScopes(Scope.SELF_READ)
  async myAuditEvents(
    @Args(() => MyAuditEventsArgs) args: MyAuditEventsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuditEventConnection> {
    const { user } = await ctx.auth();
    return toConnection(
      await this.audit.list(ctx.em, { subjectUserId: user.id }, args.first ?? MY_AUDIT_PAGE_DEFAULT, args.after),
    );
  }
}
