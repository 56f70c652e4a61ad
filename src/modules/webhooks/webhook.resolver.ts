// The webhook dead letter for admins: deliveries by status, and redelivering one. Scope webhooks:manage.
import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { pageInfo } from '../../common/page-info.types';
import type { GraphQLContext } from '../../common/request-context';
import { RequiresAssurance, RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import type { WebhookDelivery } from './webhook-delivery.entity';
import {
  WEBHOOK_PAGE_DEFAULT,
  WebhookDeliveriesArgs,
  WebhookDeliveryConnection,
  WebhookDeliveryView,
} from './webhook.types';
import { statusOf, WebhookDeliveryStatus, WebhookService } from './webhooks.service';

function toView(delivery: WebhookDelivery): WebhookDeliveryView {
  const status = statusOf(delivery);
  const endpoint = new URL(delivery.endpoint);
  return {
    id: delivery.id,
    messageId: delivery.messageId,
    type: delivery.type,
    endpoint: `${endpoint.origin}${endpoint.pathname}`,
    status,
    attempts: delivery.attempts,
    lastStatus: delivery.lastStatus,
    lastError: delivery.lastError,
    payload: JSON.parse(delivery.payload) as unknown,
    createdAt: delivery.createdAt,
    nextAttemptAt: status === WebhookDeliveryStatus.PENDING ? delivery.nextAttemptAt : null,
    deliveredAt: delivery.deliveredAt,
    deadAt: delivery.deadAt,
  };
}

@Resolver()
export class WebhookResolver {
  constructor(private readonly webhooks: WebhookService) {}

  @Query(() => WebhookDeliveryConnection, {
    description:
      'Scope webhooks:manage. Webhook deliveries with one status (default DEAD: the dead letter), newest first.',
  })
  @RequiresScopes(Scope.WEBHOOKS_MANAGE)
  async webhookDeliveries(
    @Args(() => WebhookDeliveriesArgs) { status, first, after }: WebhookDeliveriesArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryConnection> {
    const page = await this.webhooks.list(
      ctx.em,
      status ?? WebhookDeliveryStatus.DEAD,
      first ?? WEBHOOK_PAGE_DEFAULT,
      after,
    );
    return {
      edges: page.items.map(({ node, cursor }) => ({ cursor, node: toView(node) })),
      pageInfo: pageInfo(page.items, page.hasNextPage),
      totalCount: page.totalCount,
    };
  }

  @Mutation(() => WebhookDeliveryView, {
    description:
      'Scope webhooks:manage, recent authentication. Sends a delivery (dead or not) again: due now, tries counted from zero, the same webhook-id.',
  })
  @RequiresScopes(Scope.WEBHOOKS_MANAGE)
  @RequiresAssurance(1)
  async redeliverWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookDeliveryView> {
    return toView(await this.webhooks.redeliver(ctx.em, id));
  }
}
