// An external account linked to a user: one (issuer, subject) pair, never matched by email after linking.
import { randomUUID } from 'node:crypto';
import { Entity, Index, ManyToOne, PrimaryKey, Property, Unique, type Opt } from '@mikro-orm/core';
import { User } from '../users/user.entity';

@Entity({ tableName: 'identities' })
@Unique({ properties: ['issuer', 'subject'] })
export class Identity {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade', updateRule: 'cascade' })
  @Index()
  user!: User;

  /** The configuration id (`google`, or OIDC_<NAME> in lower case) that linked it. */
  @Property({ type: 'text' })
  provider!: string;

  @Property({ type: 'text' })
  issuer!: string;

  /** The provider's `sub`: stable for the account at that issuer. */
  @Property({ type: 'text' })
  subject!: string;

  /** The provider's email for this account, as it last said. */
  @Property({ type: 'text', nullable: true })
  email: string | null = null;

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  lastUsedAt: Opt<Date> | null = null;
}
