// One wrong code submitted for an email from one network: the per-(email, network) hourly budget counts
// these, and those flagged `pooled` make up the daily pool shared by every network unknown to the account.
import { type Opt, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'otp_failures' })
@Index({ properties: ['email', 'failedAt'] })
@Index({ properties: ['email', 'network', 'failedAt'] })
export class OtpFailure {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text' })
  email!: string;

  /** The network key (common/ip.ts) the guess came from. */
  @Property({ type: 'text', default: 'unknown' })
  network!: string;

  /** A guess at a live code from a network unknown to the account: it counts in the daily pool. */
  @Property({ type: 'boolean' })
  pooled: Opt<boolean> = false;

  @Property({ type: 'timestamptz' })
  failedAt!: Date;
}
