// The GraphQL view of a session: what its owner may see of a signed-in device.
import { Field, ID, Int, ObjectType } from 'type-graphql';

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

@ObjectType('Assurance', { description: 'How the current session was authenticated.' })
export class AssuranceView {
  @Field(() => Int, { description: '1: one factor; 2: two factors, or a passkey with user verification.' })
  level!: number;

  @Field(() => [String], { description: 'RFC 8176 method references, e.g. ["pwd", "otp", "mfa"] (see CONTRACT.md).' })
  methods!: string[];

  @Field(() => Date, {
    description: 'When the user last proved who they are in this session (sign-in, second factor or reauthenticate).',
  })
  authenticatedAt!: Date;
}
