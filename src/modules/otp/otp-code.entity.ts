// A one-time code, stored only as a keyed hash. Codes for unknown emails are stored too (never sent),
// so that every email gets the same answers and the same resend interval. A code belongs to the network
// that asked for it (common/ip.ts): only a guess from that network is compared with it.
import { randomUUID } from 'node:crypto';
import { type Opt, Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { OtpPurpose } from './otp-purpose';

@Entity({ tableName: 'otp_codes' })
@Index({ properties: ['email', 'purpose', 'network', 'createdAt'] })
export class OtpCode {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  email!: string;

  @Enum({ items: () => OtpPurpose })
  purpose!: OtpPurpose;

  /** The network key (common/ip.ts) of the client that asked for the code. */
  @Property({ type: 'text', default: 'unknown' })
  network!: string;

  /** The account the code was sent to; null when the email has none (nothing was sent). */
  @Property({ type: 'uuid', nullable: true })
  userId: string | null = null;

  @Property({ type: 'text', hidden: true })
  codeHash!: string;

  /**
   * VERIFY_EMAIL only: the password chosen by the registration this code was sent for, set on the account
   * when this code verifies it; null when the code sets no password (auth.service.ts `register`).
   */
  @Property({ type: 'text', nullable: true, hidden: true })
  passwordHash: string | null = null;

  /** Sent to a network the account has not signed in from: counts in the per-email daily send cap. */
  @Property({ type: 'boolean' })
  pooled: Opt<boolean> = false;

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
