// A device an account signed in from: the browser and OS families of the User-Agent and the network prefix of the
// address (devices.ts). Read and written with SQL by known-devices.ts; declared so the ORM's schema matches the
// migration. Kept while seen within KNOWN_DEVICE_DAYS, then swept by housekeeping.
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from '../users/user.entity';

@Entity({ tableName: 'known_devices' })
export class KnownDevice {
  @ManyToOne(() => User, { primary: true, fieldName: 'user_id', deleteRule: 'cascade', updateRule: 'cascade' })
  user!: User;

  @PrimaryKey({ type: 'text' })
  browser!: string;

  @PrimaryKey({ type: 'text' })
  os!: string;

  @PrimaryKey({ type: 'text' })
  network!: string;

  @Property({ type: 'timestamptz' })
  firstSeenAt!: Date;

  @Property({ type: 'timestamptz' })
  lastSeenAt!: Date;
}
