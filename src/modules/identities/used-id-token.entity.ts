// An ID token given to signInWithIdToken, remembered until it expires so it (or its nonce) cannot be replayed.
import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'used_id_tokens' })
export class UsedIdToken {
  /** SHA-256 of issuer and nonce claim (or of the token itself when it has no nonce). */
  @PrimaryKey({ type: 'text' })
  hash!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;
}
