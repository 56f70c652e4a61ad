// A network (common/ip.ts key) an account signed in from, and when last. Read and written with SQL by
// known-networks.ts; declared here so the ORM's schema matches the migration (a generated migration would
// otherwise drop the table).
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from '../users/user.entity';

@Entity({ tableName: 'known_networks' })
export class KnownNetwork {
  @ManyToOne(() => User, { primary: true, fieldName: 'user_id', deleteRule: 'cascade', updateRule: 'cascade' })
  user!: User;

  @PrimaryKey({ type: 'text' })
  network!: string;

  @Property({ type: 'timestamptz' })
  lastSeenAt!: Date;
}
