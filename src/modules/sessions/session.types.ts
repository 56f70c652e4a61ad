// The GraphQL view of a session: what its owner may see of a signed-in device.
import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType('Session', { description: 'A signed-in device or client: one refresh-token family.' })
export class SessionView {
  @Field(() => ID)
  id!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  lastUsedAt!: Date;

  @Field(() => Date)
  expiresAt!: Date;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, { nullable: true })
  ip!: string | null;

  @Field(() => Boolean, { description: 'True for the session of the access token making the request.' })
  current!: boolean;
}
