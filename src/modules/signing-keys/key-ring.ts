// The keys access tokens are signed and verified with. ES256 (the default for new installs): key pairs Portcullis
// makes and stores itself (signing_keys), one signing, one standby already published for the next rotation, and
// retired ones still published until their last token has expired. HS256: JWT_SECRET, as in the first release.
// Key changes are made under a PostgreSQL advisory lock (one new key however many instances rotate at once) and
// reach every instance through the change feed (`k:` notifications), or the next minute's maintenance at the latest.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../common/clock';
import { RateLimitedError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Sealer } from '../../common/sealing';
import { Session } from '../sessions/session.entity';
import { User } from '../users/user.entity';
import { SigningKey } from './signing-key.entity';

export type JwtAlgorithm = 'HS256' | 'ES256';

export interface KeyRingSettings {
  /** JWT_ALGORITHM; undefined: decided at start (see `start`). */
  readonly algorithm: JwtAlgorithm | undefined;
  readonly rotationDays: number;
  /** Access token lifetime, seconds: how long a retired key stays published. */
  readonly tokenTtl: number;
  /** JWT_SECRET as a KeyObject: HS256 signs and verifies with it. */
  readonly hsKey: KeyObject;
}

/** Seconds a new key is published before it signs, so verifiers' caches have it first. */
export const PUBLISH_LEAD_SECONDS = 600;
/** Extra seconds a retired key stays published: instances that have not heard of the rotation yet, clock skew. */
const RETIRE_MARGIN_SECONDS = 120;
/** The kid of HS256 tokens. */
export const HS256_KID = 'hs256';

const LOCK = "select pg_advisory_xact_lock(hashtext('portcullis:signing-keys'))";

interface LoadedKey {
  readonly kid: string;
  readonly jwk: Record<string, unknown>;
  readonly publicKey: KeyObject;
  readonly createdAt: number;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
  readonly sealedPrivateKey: string;
}

export class KeyRing {
  private keys: LoadedKey[] = [];
  private algorithmInUse: JwtAlgorithm = 'HS256';
  private signer: { kid: string; key: KeyObject } | null = null;
  /**
   * In ES256 mode after a switch from HS256 (sessions older than the first key exist): until when HS256 tokens from
   * before the switch are still accepted (first key + lead + token TTL). Null on an install that never used HS256.
   */
  private hsAcceptedUntil: number | null = null;
  private lastReloadAttempt = 0;

  constructor(
    private readonly settings: KeyRingSettings,
    private readonly clock: Clock,
    private readonly sealer: Sealer,
    private readonly logger: Logger,
  ) {}

  get algorithm(): JwtAlgorithm {
    return this.algorithmInUse;
  }

  /**
   * Decides the algorithm and loads the keys. JWT_ALGORITHM unset: ES256 when signing keys exist or there is no user
   * yet (a new install); HS256 otherwise, so an existing install keeps the first release's tokens until it chooses.
   */
  async start(em: EntityManager): Promise<void> {
    let algorithm = this.settings.algorithm;
    if (algorithm === undefined) {
      const hasKeys = (await em.count(SigningKey, {})) > 0;
      algorithm = hasKeys || (await em.count(User, {})) === 0 ? 'ES256' : 'HS256';
      if (algorithm === 'HS256') {
        this.logger.warn(
          'access tokens are signed with HS256 (JWT_SECRET), as before: set JWT_ALGORITHM=ES256 to publish keys',
        );
      }
    }
    this.algorithmInUse = algorithm;
    if (algorithm === 'ES256') await this.maintain(em);
    else await this.reload(em);
    const first = this.keys[0];
    if (algorithm === 'ES256' && first !== undefined) {
      const until = first.createdAt + (PUBLISH_LEAD_SECONDS + this.settings.tokenTtl) * 1000;
      const hsEra =
        until > this.clock.now().getTime() &&
        (await em.count(Session, { createdAt: { $lt: new Date(first.createdAt) } })) > 0;
      this.hsAcceptedUntil = hsEra ? until : null;
    }
  }

  /** The key new tokens are signed with. */
  signing(): { algorithm: JwtAlgorithm; kid: string; key: KeyObject } {
    if (this.algorithmInUse === 'HS256' || this.signer === null) {
      return { algorithm: 'HS256', kid: HS256_KID, key: this.settings.hsKey };
    }
    return { algorithm: 'ES256', kid: this.signer.kid, key: this.signer.key };
  }

  /** The key that verifies a token with header `alg`/`kid`, or null (the token is refused). */
  verifying(alg: unknown, kid: unknown): { algorithm: JwtAlgorithm; key: KeyObject } | null {
    const now = this.clock.now().getTime();
    if (alg === 'HS256') {
      if (this.algorithmInUse === 'HS256') return { algorithm: 'HS256', key: this.settings.hsKey };
      // After a switch to ES256, JWT_SECRET verifies only until HS256 tokens issued before it have expired.
      return this.hsAcceptedUntil !== null && now < this.hsAcceptedUntil
        ? { algorithm: 'HS256', key: this.settings.hsKey }
        : null;
    }
    if (alg !== 'ES256' || typeof kid !== 'string') return null;
    const found = this.keys.find((k) => k.kid === kid && this.isPublished(k, now));
    return found ? { algorithm: 'ES256', key: found.publicKey } : null;
  }

  /** Public keys to publish (JWKS): the signing key, the standby, and retired keys whose tokens may still be live. */
  jwks(): { keys: Array<Record<string, unknown>> } {
    const now = this.clock.now().getTime();
    return { keys: this.keys.filter((k) => this.isPublished(k, now)).map((k) => k.jwk) };
  }

  /**
   * Under the advisory lock: makes the first key pair (signing at once) and a standby when there is none, and
   * rotates when the signing key is JWT_KEY_ROTATION_DAYS old and the standby has been published long enough.
   */
  async maintain(em: EntityManager): Promise<void> {
    // Read first, lock only when something is due: a transaction here every minute would also switch on the
    // ORM's AsyncLocalStorage hooks in a process that otherwise never needs them (~10% of `me`'s CPU, measured).
    if (this.due(await em.fork().find(SigningKey, {}, { orderBy: { createdAt: 'asc' } }))) {
      await em.transactional(async (tx) => {
        await tx.execute(LOCK);
        const now = this.clock.now();
        const all = await tx.find(SigningKey, {}, { orderBy: { createdAt: 'asc' } });
        let active = all.find((k) => k.activatedAt !== null && k.retiredAt === null) ?? null;
        const standby = all.find((k) => k.activatedAt === null) ?? null;
        if (active === null && this.algorithmInUse === 'ES256') {
          active = this.create(tx, now);
          active.activatedAt = now;
        }
        if (standby === null) {
          if (all.length > 0 || active !== null) this.create(tx, now);
        } else if (active !== null && this.rotationDue(active, standby, now)) {
          this.promote(tx, active, standby, now);
        }
      });
    }
    await this.reload(em);
  }

  /** Whether `maintain` has anything to make or rotate in `keys` (checked again under the lock). */
  private due(keys: readonly SigningKey[]): boolean {
    const active = keys.find((k) => k.activatedAt !== null && k.retiredAt === null) ?? null;
    const standby = keys.find((k) => k.activatedAt === null) ?? null;
    if (active === null) return this.algorithmInUse === 'ES256';
    return standby === null || this.rotationDue(active, standby, this.clock.now());
  }

  private rotationDue(active: SigningKey, standby: SigningKey, now: Date): boolean {
    return (
      active.activatedAt!.getTime() + this.settings.rotationDays * 86_400_000 <= now.getTime() &&
      standby.createdAt.getTime() + PUBLISH_LEAD_SECONDS * 1000 <= now.getTime()
    );
  }

  /**
   * rotateSigningKey: the standby signs from now on, the signing key retires (published until its tokens expire), a
   * new standby is made. RATE_LIMITED while the standby has been published for less than PUBLISH_LEAD_SECONDS.
   */
  async rotate(em: EntityManager): Promise<string> {
    const kid = await em.transactional(async (tx) => {
      await tx.execute(LOCK);
      const now = this.clock.now();
      const active = await tx.findOne(SigningKey, { activatedAt: { $ne: null }, retiredAt: null });
      let standby = await tx.findOne(SigningKey, { activatedAt: null }, { orderBy: { createdAt: 'asc' } });
      if (standby === null) standby = this.create(tx, now);
      const readyAt = standby.createdAt.getTime() + PUBLISH_LEAD_SECONDS * 1000;
      if (readyAt > now.getTime()) throw new RateLimitedError((readyAt - now.getTime()) / 1000);
      this.promote(tx, active, standby, now);
      return standby.kid;
    });
    await this.reload(em);
    return kid;
  }

  /** Reads every key again (a `k:` notification, maintenance, or a token with a kid this instance has not seen). */
  async reload(em: EntityManager): Promise<void> {
    this.lastReloadAttempt = this.clock.now().getTime();
    const rows = await em.fork().find(SigningKey, {}, { orderBy: { createdAt: 'asc' } });
    this.keys = rows.flatMap((r): LoadedKey[] => {
      try {
        const jwk = JSON.parse(r.publicJwk) as JsonWebKey;
        return [
          {
            kid: r.kid,
            jwk: jwk,
            publicKey: createPublicKey({ key: jwk, format: 'jwk' }),
            createdAt: r.createdAt.getTime(),
            activatedAt: r.activatedAt?.getTime() ?? null,
            retiredAt: r.retiredAt?.getTime() ?? null,
            sealedPrivateKey: r.privateKey,
          },
        ];
      } catch {
        // One unreadable row must not stop every other key from verifying.
        this.logger.error('a signing key row is unreadable and is ignored', { kid: r.kid });
        return [];
      }
    });
    const active = this.keys.filter((k) => k.activatedAt !== null && k.retiredAt === null).at(-1);
    this.signer =
      active === undefined
        ? null
        : this.signer?.kid === active.kid
          ? this.signer
          : { kid: active.kid, key: createPrivateKey(this.sealer.open(active.sealedPrivateKey)) };
  }

  /** Whether a reload for an unknown kid may run now (at most one every 5 s, so forged kids cannot flood the database). */
  mayReload(): boolean {
    return this.clock.now().getTime() - this.lastReloadAttempt >= 5000;
  }

  private isPublished(k: LoadedKey, now: number): boolean {
    return k.retiredAt === null || now < k.retiredAt + (this.settings.tokenTtl + RETIRE_MARGIN_SECONDS) * 1000;
  }

  private promote(tx: EntityManager, active: SigningKey | null, standby: SigningKey, now: Date): void {
    if (active !== null) active.retiredAt = now;
    standby.activatedAt = now;
    this.create(tx, now);
    this.logger.info('signing key rotated', { kid: standby.kid });
  }

  private create(tx: EntityManager, now: Date): SigningKey {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomBytes(12).toString('base64url');
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
    return tx.create(SigningKey, {
      kid,
      algorithm: 'ES256',
      publicJwk: JSON.stringify(jwk),
      privateKey: this.sealer.seal(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string),
      createdAt: now,
    });
  }
}
