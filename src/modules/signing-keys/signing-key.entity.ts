// An ES256 key pair Portcullis made to sign access tokens. Published (in the JWKS) from `createdAt`; signs from
// `activatedAt` until `retiredAt`; published until its last token has expired. The private key is sealed.
import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'signing_keys' })
export class SigningKey {
  /** The JWT header's `kid`. */
  @PrimaryKey({ type: 'text' })
  kid!: string;

  @Property({ type: 'text' })
  algorithm!: string;

  /** The public key as a JWK (JSON text). */
  @Property({ type: 'text' })
  publicJwk!: string;

  /** PKCS#8 PEM, sealed with the data keys (common/sealing.ts). */
  @Property({ type: 'text', hidden: true })
  privateKey!: string;

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  activatedAt: Date | null = null;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  retiredAt: Date | null = null;
}
