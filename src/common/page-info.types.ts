// GraphQL PageInfo of every cursor connection.
import { Field, ObjectType } from 'type-graphql';

@ObjectType('PageInfo')
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export function pageInfo(items: ReadonlyArray<{ cursor: string }>, hasNextPage: boolean): PageInfo {
  return { hasNextPage, endCursor: items.at(-1)?.cursor ?? null };
}
