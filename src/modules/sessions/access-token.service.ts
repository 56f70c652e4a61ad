// Access tokens: RFC 9068-shaped HS256 JWTs. Verification pins the algorithm and checks typ, iss, aud and exp.
import { randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { epochSeconds, type Clock } from '../../common/clock';
import { UnauthenticatedError } from '../../common/errors';
import { scopesOf, type Role } from '../../common/roles';
import type { AccessClaims } from '../../common/request-context';
import { UUID } from '../../common/validation';
import { acrOf } from '../../common/assurance';

const ALGORITHM = 'HS256';
const TOKEN_TYPE = 'at+jwt';

export interface AccessTokenSettings {
  readonly key: KeyObject;
  readonly issuer: string;
  readonly audience: string;
  readonly ttl: number;
}

export class AccessTokenService {
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
    return jwt.sign(payload, this.settings.key, {
      algorithm: ALGORITHM,
      header: { alg: ALGORITHM, typ: TOKEN_TYPE },
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      subject: userId,
      jwtid: randomUUID(),
    });
  }

  /** The token's claims, or UNAUTHENTICATED for anything malformed, expired, mistyped or mis-signed. */
  verify(token: string): AccessClaims {
    let decoded: jwt.Jwt;
    try {
      decoded = jwt.verify(token, this.settings.key, {
        algorithms: [ALGORITHM],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTimestamp: epochSeconds(this.clock.now()),
        complete: true,
      });
    } catch {
      throw new UnauthenticatedError();
    }
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
    return {
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
  }
}
