// Second factors as tests need them: TOTP codes computed independently of the server (RFC 6238 on node:crypto), a
// TOTP factor enrolled and confirmed through the API, and the ticket of an MFA_REQUIRED answer.
import { createHmac } from 'node:crypto';
import type { GraphQLBody, GraphQLClient, GraphQLResponse } from './client';
import { AUTH_FIELDS, type Tokens } from './flows';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (no padding needed, any case) → bytes. */
export function base32Decode(text: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text.toUpperCase().replace(/=+$/, '')) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** RFC 4226 HOTP (HMAC-SHA1, dynamic truncation) of `key` at `counter`. */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** RFC 6238 TOTP (SHA-1, 30 s steps) of the base32 `secret` at `atMs` (epoch milliseconds). */
export function totpCode(secret: string, atMs: number, digits = 6): string {
  return hotp(base32Decode(secret), Math.floor(atMs / 1000 / 30), digits);
}

/** A server whose clock tests move (a TestApp). */
export interface WithClock extends GraphQLClient {
  readonly clock: { now(): Date; advance(seconds: number): void };
}

/**
 * The code of the next time step: moves the clock 30 s first, since a step once accepted (by confirmTotp or a sign-in)
 * is never accepted again for that factor.
 */
export function nextTotpCode(app: WithClock, secret: string): string {
  app.clock.advance(30);
  return totpCode(secret, app.clock.now().getTime());
}

export interface EnabledTotp {
  readonly factorId: string;
  readonly secret: string;
  /** The 10 recovery codes confirmTotp returned ([] when the user already had a factor). */
  readonly recoveryCodes: string[];
}

/** enrollTotp + confirmTotp with the current code, in the session of `tokens` (its time step is then spent). */
export async function enableTotp(
  app: WithClock,
  tokens: Pick<Tokens, 'accessToken'>,
  name: string | null = null,
): Promise<EnabledTotp> {
  const token = tokens.accessToken;
  const enrolled = await app.gql<{ enrollTotp: { factorId: string; secret: string } }>(
    'mutation($n: String) { enrollTotp(name: $n) { factorId secret } }',
    { n: name },
    { token },
  );
  if (!enrolled.data?.enrollTotp) throw new Error(`enrollTotp failed: ${JSON.stringify(enrolled.errors)}`);
  const { factorId, secret } = enrolled.data.enrollTotp;
  const confirmed = await app.gql<{ confirmTotp: string[] }>(
    'mutation($f: ID!, $c: String!) { confirmTotp(factorId: $f, code: $c) }',
    { f: factorId, c: totpCode(secret, app.clock.now().getTime()) },
    { token },
  );
  if (!confirmed.data?.confirmTotp) throw new Error(`confirmTotp failed: ${JSON.stringify(confirmed.errors)}`);
  return { factorId, secret, recoveryCodes: confirmed.data.confirmTotp };
}

/** The `mfaTicket` of an MFA_REQUIRED answer; throws on any other answer. */
export function mfaTicketOf(res: GraphQLBody<unknown>): string {
  const error = res.errors?.[0];
  if (error?.extensions?.code !== 'MFA_REQUIRED' || typeof error.extensions.mfaTicket !== 'string') {
    throw new Error(`expected MFA_REQUIRED, got ${JSON.stringify(res.errors ?? res.data)}`);
  }
  return error.extensions.mfaTicket;
}

/** verifyMfa with the ticket and the given proof (exactly one of them, unless a test means otherwise). */
export function verifyMfa(
  app: GraphQLClient,
  ticket: string,
  proof: { code?: string; recoveryCode?: string; passkey?: unknown },
): Promise<GraphQLResponse<{ verifyMfa: Tokens }>> {
  return app.gql<{ verifyMfa: Tokens }>(
    `mutation($t: String!, $c: String, $r: String, $p: JSON) {
       verifyMfa(ticket: $t, code: $c, recoveryCode: $r, passkey: $p) { ${AUTH_FIELDS} } }`,
    { t: ticket, c: proof.code, r: proof.recoveryCode, p: proof.passkey },
  );
}
