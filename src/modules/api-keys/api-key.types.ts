// The GraphQL views of API keys: never the secret's hash; the secret itself only in ApiKeyCreated, once.
import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';
import type { ApiKey } from './api-key.entity';

@ObjectType('ApiKey', {
  description: 'A personal API key: acts as its owner with at most `scopes`. The secret is shown once, at creation.',
})
export class ApiKeyView {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'The first characters of the secret (`pcl_` + 8), to recognise it.' })
  prefix!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}

export function toApiKeyView(k: ApiKey): ApiKeyView {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: [...k.scopes],
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    lastUsedAt: k.lastUsedAt,
  };
}

@ObjectType('ApiKeyCreated')
export class ApiKeyCreatedView {
  @Field(() => ApiKeyView)
  apiKey!: ApiKeyView;

  @Field(() => String, {
    description: 'The secret, `pcl_…`; send as `Authorization: Bearer <secret>`. Never shown again.',
  })
  secret!: string;
}

@ArgsType()
export class CreateApiKeyArgs {
  @Field(() => String)
  name!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => Int, { nullable: true })
  expiresIn?: number | null;
}
