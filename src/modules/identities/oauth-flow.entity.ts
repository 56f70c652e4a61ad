// One sign-in or link through a provider, from startSocialSignIn to completeSocialSignIn. The state and the app's
// one-time code are kept only as SHA-256 hashes, the provider PKCE verifier sealed (AES-256-GCM); each step is
// claimed with a conditional UPDATE, so a state or code is used once however many requests race for it.
import { randomUUID } from 'node:crypto';
import { Entity, Enum, Index, PrimaryKey, Property, type Opt } from '@mikro-orm/core';

export enum FlowPurpose {
  SIGN_IN = 'SIGN_IN',
  LINK = 'LINK',
}

@Entity({ tableName: 'oauth_flows' })
export class OAuthFlow {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', unique: true, hidden: true })
  stateHash!: string;

  @Property({ type: 'text' })
  provider!: string;

  @Enum({ items: () => FlowPurpose })
  purpose!: FlowPurpose;

  /** LINK: the signed-in user who started it. */
  @Property({ type: 'uuid', nullable: true })
  linkUserId: string | null = null;

  /** Sent to the provider and expected back in the ID token. */
  @Property({ type: 'text', hidden: true })
  nonce!: string;

  /** The provider PKCE verifier, sealed with the server's key. */
  @Property({ type: 'text', hidden: true })
  providerVerifier!: string;

  /** The app's own PKCE S256 challenge, checked when the app redeems the code. */
  @Property({ type: 'text' })
  appChallenge!: string;

  @Property({ type: 'text' })
  redirectUri!: string;

  @Property({ type: 'timestamptz', length: 3 })
  createdAt!: Date;

  /** The state's expiry (10 minutes). */
  @Property({ type: 'timestamptz', length: 3 })
  @Index()
  expiresAt!: Date;

  /** When the provider's callback used the state. */
  @Property({ type: 'timestamptz', length: 3, nullable: true })
  callbackAt: Opt<Date> | null = null;

  /** After the callback: the account signed in or linked to, and the identity. */
  @Property({ type: 'uuid', nullable: true })
  resultUserId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  resultIdentityId: string | null = null;

  /** SHA-256 of the one-time code the browser carries back to the app (60 s). */
  @Property({ type: 'text', nullable: true, unique: true, hidden: true })
  codeHash: string | null = null;

  @Property({ type: 'timestamptz', length: 3, nullable: true })
  codeExpiresAt: Date | null = null;

  /** When the app redeemed the code. */
  @Property({ type: 'timestamptz', length: 3, nullable: true })
  usedAt: Opt<Date> | null = null;
}
