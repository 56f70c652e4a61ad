// Access tokens: RFC 9068-shaped JWTs, ES256 with a `kid` from the key ring (or HS256 with JWT_SECRET). Verification
// takes the algorithm from the key the `kid` names, never from the token alone, and checks typ, iss, aud and exp.
// An ES256 signature costs ~0.15 ms to check: a verified token's claims are kept (bounded) until it expires.
import { randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { epochSeconds, type Clock } from '../../common/clock';
import { UnauthenticatedError } from '../../common/errors';
import { scopesOf, type Role } from '../../common/roles';
import type { AccessClaims } from '../../common/request-context';
import { UUID } from '../../common/validation';
import { acrOf } from '../../common/assurance';

const TOKEN_TYPE = 'at+jwt';
/** Verified tokens remembered: enough for every token in use on a busy instance; older ones are verified again. */
const VERIFIED_CACHE_SIZE = 20_000;

/** Where the signing and verification keys come from (modules/signing-keys/key-ring.ts). */
export interface TokenKeys {
  signing(): { algorithm: 'HS256' | 'ES256'; kid: string; key: KeyObject };
  /** The key for a token whose header says `alg` and `kid`; null refuses the token. */
  verifying(alg: unknown, kid: unknown): { algorithm: 'HS256' | 'ES256'; key: KeyObject } | null;
}

export interface AccessTokenSettings {
  readonly keys: TokenKeys;
  readonly issuer: string;
  readonly audience: string;
  readonly ttl: number;
}

export class AccessTokenService {
  private readonly verified = new LRUCache<string, AccessClaims>({ max: VERIFIED_CACHE_SIZE });

  constructor(
    private readonly settings: AccessTokenSettings,
    private readonly clock: Clock,
  ) {}

  get ttl(): number {
    return this.settings.ttl;
  }

  /** `amr` and `authTime`: how and when the user proved who they are in this session (acr follows from amr). */
  sign(userId: string, sessionId: string, roles: Role[], amr: readonly string[], authTime: Date): string {
    const iat = epochSeconds(this.clock.now());
    const payload = {
      sid: sessionId,
      scope: scopesOf(roles).join(' '),
      roles,
      acr: acrOf(amr),
      amr,
      auth_time: epochSeconds(authTime),
      iat,
      exp: iat + this.settings.ttl,
    };
    const { algorithm, kid, key } = this.settings.keys.signing();
    return jwt.sign(payload, key, {
      algorithm,
      header: { alg: algorithm, typ: TOKEN_TYPE, kid },
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      subject: userId,
      jwtid: randomUUID(),
    });
  }

  /**
   * The token's claims, or UNAUTHENTICATED for anything malformed, expired, mistyped or mis-signed. A well-formed
   * token whose kid no published key has is refused with UnknownKeyError (`withKid`: a reload of the keys may help).
   */
  verify(token: string): AccessClaims {
    const now = epochSeconds(this.clock.now());
    const cached = this.verified.get(token);
    if (cached !== undefined && cached.exp > now) return cached;
    // One decode: jsonwebtoken hands the header it decoded to the key callback, which answers at once (the whole
    // verification stays synchronous). The key is the one the ring holds for that alg and kid, and its algorithm
    // must be the header's: with `algorithms` naming both, the pair is checked here, explicitly.
    let unknownKey: UnknownKeyError | undefined;
    let decoded: jwt.Jwt | undefined;
    jwt.verify(
      token,
      (header, answer) => {
        const found = this.settings.keys.verifying(header.alg, header.kid);
        if (found === null || found.algorithm !== header.alg) {
          unknownKey = new UnknownKeyError(typeof header.kid === 'string');
          answer(unknownKey);
        } else answer(null, found.key);
      },
      {
        algorithms: ['ES256', 'HS256'],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTimestamp: now,
        complete: true,
      },
      (err, result) => {
        if (err === null) decoded = result;
      },
    );
    if (unknownKey !== undefined) throw unknownKey;
    if (decoded === undefined) throw new UnauthenticatedError();
    const p = decoded.payload;
    if (decoded.header.typ !== TOKEN_TYPE || typeof p !== 'object') throw new UnauthenticatedError();
    const { sub, sid, jti, scope, roles, iat, exp, acr, amr, auth_time: authTime } = p as Record<string, unknown>;
    if (
      typeof sub !== 'string' ||
      typeof sid !== 'string' ||
      !UUID.test(sub) || // ids the database can look up: a signed token with another shape is refused, not an error
      !UUID.test(sid) ||
      typeof jti !== 'string' ||
      typeof scope !== 'string' ||
      !Array.isArray(roles) ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      // Tokens signed before these claims existed have none of them; a token with some must have them right.
      (acr !== undefined && acr !== 'aal1' && acr !== 'aal2') ||
      (amr !== undefined && !(Array.isArray(amr) && amr.every((m) => typeof m === 'string'))) ||
      (authTime !== undefined && typeof authTime !== 'number')
    ) {
      throw new UnauthenticatedError();
    }
    const claims: AccessClaims = {
      sub,
      sid,
      jti,
      scope,
      roles: roles as Role[],
      iat,
      exp,
      acr: acr ?? 'aal1',
      amr: amr ?? [],
      authTime: authTime ?? iat,
    };
    this.verified.set(token, claims);
    return claims;
  }
}

/** A token refused because no published key matches its header; `withKid`: it named one (maybe a key just made). */
export class UnknownKeyError extends UnauthenticatedError {
  constructor(readonly withKid: boolean) {
    super();
  }
}
