// One wrong code submitted for an email: the per-email hourly budget counts these, across codes.
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'otp_failures' })
@Index({ properties: ['email', 'failedAt'] })
export class OtpFailure {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text' })
  email!: string;

  @Property({ type: 'timestamptz' })
  failedAt!: Date;
}
