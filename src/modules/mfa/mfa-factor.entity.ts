// A second factor of a user: a TOTP authenticator app or a passkey. A TOTP factor counts once confirmed; a passkey
// is confirmed when it is registered. The TOTP secret is sealed (common/sealing.ts), never stored in clear.
import { randomUUID } from 'node:crypto';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique, type Opt } from '@mikro-orm/core';
import { User } from '../users/user.entity';
import { MfaFactorType } from './mfa-factor-type';

@Entity({ tableName: 'mfa_factors' })
export class MfaFactor {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade', updateRule: 'cascade' })
  @Index()
  user!: User;

  @Enum({ items: () => MfaFactorType })
  type!: MfaFactorType;

  /** The user's own label. */
  @Property({ type: 'text', nullable: true })
  name: string | null = null;

  /** TOTP: the base32 secret, sealed with the data keys. */
  @Property({ type: 'text', nullable: true, hidden: true })
  secret: string | null = null;

  /** TOTP: the last time step accepted; that step and earlier ones are refused afterwards. */
  @Property({ type: 'integer', nullable: true })
  lastStep: number | null = null;

  /** Passkey: the credential id, base64url. */
  @Property({ type: 'text', nullable: true })
  @Unique()
  credentialId: string | null = null;

  /** Passkey: the COSE public key, base64url. */
  @Property({ type: 'text', nullable: true, hidden: true })
  publicKey: string | null = null;

  /** Passkey: the last signature counter seen (0 for authenticators that do not count, such as synced passkeys). */
  @Property({ type: 'bigint', nullable: true })
  signCount: number | null = null;

  /** Passkey: transports the browser reported, as hints for later ceremonies. */
  @Property({ type: 'text[]' })
  transports: Opt<string[]> = [];

  /** Null until a TOTP factor is confirmed with a code; it does not count before. */
  @Property({ type: 'timestamptz', length: 3, nullable: true })
  confirmedAt: Date | null = null;

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  lastUsedAt: Opt<Date> | null = null;
}
