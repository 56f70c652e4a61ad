// A sign-in that proved its first factor for a user with MFA on and waits for the second (MFA_REQUIRED's
// `mfaTicket`): single use, 5 minutes, 5 wrong tries. Only the ticket's hash is stored.
import { randomUUID } from 'node:crypto';
import { Entity, Index, ManyToOne, PrimaryKey, Property, Unique, type Opt } from '@mikro-orm/core';
import { User } from '../users/user.entity';

@Entity({ tableName: 'mfa_tickets' })
export class MfaTicket {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', hidden: true })
  @Unique()
  ticketHash!: string;

  @ManyToOne(() => User, { deleteRule: 'cascade', updateRule: 'cascade' })
  user!: User;

  /** The first factor's methods (common/assurance.ts), which the session will carry with the second's. */
  @Property({ type: 'text[]' })
  amr!: string[];

  /** The first factor's SignInMethod, for the audit trail. */
  @Property({ type: 'text' })
  method!: string;

  /** The passkey challenge offered with the ticket (webauthn_challenges), when the user has a passkey. */
  @Property({ type: 'uuid', nullable: true })
  challengeId: string | null = null;

  @Property({ type: 'integer' })
  attempts: Opt<number> = 0;

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'timestamptz', length: 3 })
  @Index()
  expiresAt!: Date;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  usedAt: Date | null = null;
}
