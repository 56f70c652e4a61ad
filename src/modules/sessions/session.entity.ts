// A signed-in device: one refresh-token family. Only hashes of refresh tokens are stored.
import { randomUUID } from 'node:crypto';
import { Entity, Index, ManyToOne, PrimaryKey, Property, type Opt } from '@mikro-orm/core';
import { User } from '../users/user.entity';

@Entity({ tableName: 'sessions' })
export class Session {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade', index: true })
  user!: User;

  /** SHA-256 of the refresh token that is valid now. */
  @Property({ type: 'text', unique: true, hidden: true })
  currentTokenHash!: string;

  /** SHA-256 of the token that `currentTokenHash` replaced: replayable within the grace window. */
  @Index()
  @Property({ type: 'text', nullable: true, hidden: true })
  previousTokenHash: string | null = null;

  /** Random salt that, with the previous token and the server key, re-derives the current token. */
  @Property({ type: 'text', nullable: true, hidden: true })
  rotationNonce: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  rotatedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  userAgent: string | null = null;

  @Property({ type: 'text', nullable: true })
  ip: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  /** How the user proved who they are for this session: RFC 8176 methods (common/assurance.ts). */
  @Property({ type: 'text[]', default: '{}' })
  amr: Opt<string[]> = [];

  /** When the user last proved who they are in this session; refreshing keeps it. */
  @Property({ type: 'timestamptz' })
  authTime!: Date;

  @Property({ type: 'timestamptz' })
  lastUsedAt!: Date;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  revokedReason: string | null = null;
}
