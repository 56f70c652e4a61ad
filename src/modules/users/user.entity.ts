// A person who can sign in. Emails are stored normalized (trimmed, lower-case), so the unique index is case-insensitive.
import { randomUUID } from 'node:crypto';
import { type Opt, Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';
import { Role } from '../../common/roles';

@Entity({ tableName: 'users' })
export class User {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', unique: true })
  email!: string;

  /** bcrypt of the SHA-256 pre-hash; null for accounts that have no password (yet). */
  @Property({ type: 'text', nullable: true, hidden: true, lazy: false })
  passwordHash: string | null = null;

  @Property({ type: 'text', nullable: true })
  fullName: string | null = null;

  @Property({ type: 'boolean' })
  emailVerified: Opt<boolean> = false;

  @Property({ type: 'boolean' })
  active: Opt<boolean> = true;

  @Enum({ items: () => Role, array: true })
  roles: Opt<Role[]> = [Role.USER];

  /** Millisecond precision, like JavaScript dates, so keyset cursors compare exactly. */
  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  updatedAt!: Date;
}
