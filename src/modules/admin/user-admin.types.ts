// GraphQL types of the user administration operations.
import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { PageInfo } from '../../common/page-info.types';
import { Role } from '../../common/roles';
import { UserView } from '../users/user.types';

export const USERS_PAGE_DEFAULT = 20;

@ObjectType('UserEdge')
export class UserEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => UserView)
  node!: UserView;
}

@ObjectType('UserConnection')
export class UserConnection {
  @Field(() => [UserEdge])
  edges!: UserEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@InputType('UserFilter')
export class UserFilter {
  @Field(() => String, { nullable: true, description: 'Case-insensitive substring of the email.' })
  email?: string | null;

  @Field(() => Role, { nullable: true })
  role?: Role | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;
}

@ArgsType()
export class UsersArgs {
  @Field(() => Int, { nullable: true, defaultValue: USERS_PAGE_DEFAULT, description: 'At most 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;

  @Field(() => UserFilter, { nullable: true })
  filter?: UserFilter | null;
}

@ArgsType()
export class SetUserRolesArgs {
  @Field(() => ID)
  userId!: string;

  @Field(() => [Role])
  roles!: Role[];
}

@ArgsType()
export class SetUserActiveArgs {
  @Field(() => ID)
  userId!: string;

  @Field(() => Boolean)
  active!: boolean;
}
