// Reversible secrets at rest (queued email bodies, a sign-in flow's provider PKCE verifier, later second-factor
// secrets and signing keys): AES-256-GCM under a data key, written as `keyId:iv.tag.ciphertext`, so keys can be
// rotated — the first key seals, every configured key opens, and `npm run keys:reencrypt` moves old values on.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { decrypt, encrypt } from './crypto';

export interface DataKey {
  readonly id: string;
  readonly key: KeyObject;
}

export class Sealer {
  private readonly byId: ReadonlyMap<string, KeyObject>;

  /**
   * `keys[0]` seals. `legacy` opens values written before key ids existed (no `keyId:` prefix): the outbox key
   * derived from JWT_SECRET, so mail queued before an upgrade is still delivered.
   */
  constructor(
    private readonly keys: readonly DataKey[],
    private readonly legacy?: KeyObject,
  ) {
    if (keys.length === 0) throw new Error('Sealer needs at least one key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  static fromBytes(keys: ReadonlyArray<{ id: string; key: Buffer }>, legacy?: KeyObject): Sealer {
    return new Sealer(
      keys.map(({ id, key }) => ({ id, key: createSecretKey(key) })),
      legacy,
    );
  }

  /** The id of the key that seals now. */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  seal(plaintext: string): string {
    const [current] = this.keys;
    return `${current!.id}:${encrypt(current!.key, plaintext)}`;
  }

  /** Throws when no configured key sealed `sealed`, or it was tampered with. */
  open(sealed: string): string {
    const colon = sealed.indexOf(':');
    if (colon < 0) {
      if (this.legacy === undefined) throw new Error('value sealed before key ids, and no legacy key');
      return decrypt(this.legacy, sealed);
    }
    const key = this.byId.get(sealed.slice(0, colon));
    if (key === undefined) throw new Error(`no data key "${sealed.slice(0, colon)}" is configured`);
    return decrypt(key, sealed.slice(colon + 1));
  }

  /** True when `sealed` is already under the current key (keys:reencrypt leaves it alone). */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`${this.currentKeyId}:`);
  }
}
