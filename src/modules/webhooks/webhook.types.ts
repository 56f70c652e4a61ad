// GraphQL types of the webhook deliveries an admin sees (the dead letter) and redelivers.
import { GraphQLJSON } from 'graphql-scalars';
import { ArgsType, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from '../../common/page-info.types';
import { WebhookDeliveryStatus } from './webhooks.service';

export const WEBHOOK_PAGE_DEFAULT = 20;

registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  description: 'PENDING: waiting for a try or a retry. DELIVERED: a 2xx answer. DEAD: every try failed.',
});

@ObjectType('WebhookDelivery', {
  description:
    'One event sent to one endpoint (docs/webhooks.md). It holds no secret: neither the signing key nor any code.',
})
export class WebhookDeliveryView {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'The webhook-id header: the same on every try and redelivery.' })
  messageId!: string;

  @Field(() => String, { description: 'The event type, e.g. user.created.' })
  type!: string;

  @Field(() => String, { description: 'The endpoint (one of WEBHOOK_URLS), without its query string.' })
  endpoint!: string;

  @Field(() => WebhookDeliveryStatus)
  status!: WebhookDeliveryStatus;

  @Field(() => Int, { description: 'Tries so far (since the last redelivery).' })
  attempts!: number;

  @Field(() => Int, { nullable: true, description: 'HTTP status of the last try; null when none came back.' })
  lastStatus!: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why the last try failed (at most 200 characters of the answer).',
  })
  lastError!: string | null;

  @Field(() => GraphQLJSON, { description: 'The body sent: { type, timestamp, data }.' })
  payload!: unknown;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the next try is due; null once delivered or dead.' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deadAt!: Date | null;
}

@ObjectType('WebhookDeliveryEdge')
export class WebhookDeliveryEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => WebhookDeliveryView)
  node!: WebhookDeliveryView;
}

@ObjectType('WebhookDeliveryConnection')
export class WebhookDeliveryConnection {
  @Field(() => [WebhookDeliveryEdge])
  edges!: WebhookDeliveryEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ArgsType()
export class WebhookDeliveriesArgs {
  @Field(() => WebhookDeliveryStatus, { nullable: true, defaultValue: WebhookDeliveryStatus.DEAD })
  status?: WebhookDeliveryStatus | null;

  @Field(() => Int, { nullable: true, defaultValue: WEBHOOK_PAGE_DEFAULT, description: 'At most 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}
