// GraphQL types of the audit trail.
import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';
import { PageInfo } from '../../common/page-info.types';
import { AuditEventType } from './audit-event-type';

export const AUDIT_PAGE_DEFAULT = 50;
export const MY_AUDIT_PAGE_DEFAULT = 20;

@ObjectType('AuditEvent', {
  description: 'A security-relevant event. It never holds a password, code, token or secret.',
})
export class AuditEventView {
  @Field(() => ID)
  id!: string;

  @Field(() => AuditEventType)
  type!: AuditEventType;

  @Field(() => ID, { nullable: true, description: 'Who acted; null for an anonymous caller or the command line.' })
  actorId!: string | null;

  @Field(() => ID, { nullable: true, description: 'The account the event is about.' })
  userId!: string | null;

  @Field(() => String, { nullable: true, description: 'The email the request named.' })
  email!: string | null;

  @Field(() => String, { nullable: true })
  ip!: string | null;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'A short human note (a purpose, a role change). Not for machines: branch on `type`.',
  })
  detail!: string | null;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType('AuditEventEdge')
export class AuditEventEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => AuditEventView)
  node!: AuditEventView;
}

@ObjectType('AuditEventConnection')
export class AuditEventConnection {
  @Field(() => [AuditEventEdge])
  edges!: AuditEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ArgsType()
export class AuditEventsArgs {
  @Field(() => ID, { nullable: true })
  userId?: string | null;

  @Field(() => AuditEventType, { nullable: true })
  type?: AuditEventType | null;

  @Field(() => Int, { nullable: true, defaultValue: AUDIT_PAGE_DEFAULT, description: 'At most 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}

@ArgsType()
export class MyAuditEventsArgs {
  @Field(() => Int, { nullable: true, defaultValue: MY_AUDIT_PAGE_DEFAULT, description: 'At most 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}
