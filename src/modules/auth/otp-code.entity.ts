// A one-time code, stored only as a keyed hash. Codes for unknown emails are stored too (never sent),
// so that every email gets the same answers and the same resend interval.
import { randomUUID } from 'node:crypto';
import { type Opt, Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { OtpPurpose } from './otp-purpose';

@Entity({ tableName: 'otp_codes' })
@Index({ properties: ['email', 'purpose', 'createdAt'] })
export class OtpCode {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  email!: string;

  @Enum({ items: () => OtpPurpose })
  purpose!: OtpPurpose;

  /** The account the code was sent to; null when the email has none (nothing was sent). */
  @Property({ type: 'uuid', nullable: true })
  userId: string | null = null;

  @Property({ type: 'text', hidden: true })
  codeHash!: string;

  @Property({ type: 'integer' })
  attempts: Opt<number> = 0;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  /** Set when the code was accepted, or retired by a newer code. */
  @Property({ type: 'timestamptz', nullable: true })
  consumedAt: Date | null = null;
}
