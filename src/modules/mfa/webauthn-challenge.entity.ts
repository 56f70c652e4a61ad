// A WebAuthn ceremony Portcullis began: the challenge it expects back, for whom and for what. Single use.
import { randomUUID } from 'node:crypto';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from '../users/user.entity';

export enum CeremonyPurpose {
  /** Adding a passkey to a signed-in account. */
  REGISTER = 'REGISTER',
  /** A passkey as the first factor. */
  SIGN_IN = 'SIGN_IN',
  /** A passkey as the second factor of an MFA ticket. */
  SECOND_FACTOR = 'SECOND_FACTOR',
  /** Proving the signed-in user again (reauthenticate). */
  REAUTHENTICATE = 'REAUTHENTICATE',
}

@Entity({ tableName: 'webauthn_challenges' })
export class WebAuthnChallenge {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Enum({ items: () => CeremonyPurpose })
  purpose!: CeremonyPurpose;

  /** The account it is for; null for a discoverable passkey sign-in (or one narrowed to an unknown email). */
  @ManyToOne(() => User, { nullable: true, deleteRule: 'cascade', updateRule: 'cascade' })
  user: User | null = null;

  /** The base64url challenge sent in the options. */
  @Property({ type: 'text' })
  challenge!: string;

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'timestamptz', length: 3 })
  @Index()
  expiresAt!: Date;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  usedAt: Date | null = null;
}
