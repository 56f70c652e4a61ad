// The GraphQL view of a user: no secret has a field here.
import { Field, ID, ObjectType } from 'type-graphql';
import { Role, scopesOf } from '../../common/roles';
import type { PrincipalUser } from '../../common/request-context';

@ObjectType('User')
export class UserView {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  email!: string;

  @Field(() => String, { nullable: true })
  fullName!: string | null;

  @Field(() => Boolean)
  emailVerified!: boolean;

  @Field(() => Boolean)
  active!: boolean;

  @Field(() => [Role])
  roles!: Role[];

  @Field(() => [String], { description: 'Union of the scopes granted by `roles`, sorted.' })
  scopes!: string[];

  @Field(() => Date)
  createdAt!: Date;

  /** Not a field: set when the user is the caller's own though the request has no token (a sign-in's payload). */
  viewerIsSelf?: boolean;
}

export function toUserView(user: PrincipalUser): UserView {
  return Object.assign(new UserView(), {
    id: user.id,
    email: user.email,
    fullName: user.fullName,
    emailVerified: user.emailVerified,
    active: user.active,
    roles: [...user.roles],
    scopes: scopesOf(user.roles),
    createdAt: user.createdAt,
  });
}
