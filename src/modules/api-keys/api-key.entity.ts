// A personal API key: acts as its owner with at most `scopes`. Only the SHA-256 of the secret is stored.
import { randomUUID } from 'node:crypto';
import { Entity, Index, ManyToOne, PrimaryKey, Property, Unique, type Opt } from '@mikro-orm/core';
import { User } from '../users/user.entity';

@Entity({ tableName: 'api_keys' })
export class ApiKey {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade', updateRule: 'cascade' })
  @Index()
  user!: User;

  @Property({ type: 'text' })
  name!: string;

  /** `pcl_` and the secret's first 8 characters, to recognise it. */
  @Property({ type: 'text' })
  prefix!: string;

  @Property({ type: 'text', hidden: true })
  @Unique()
  secretHash!: string;

  @Property({ type: 'text[]' })
  scopes!: string[];

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  expiresAt: Date | null = null;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  lastUsedAt: Opt<Date> | null = null;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  revokedAt: Opt<Date> | null = null;
}
