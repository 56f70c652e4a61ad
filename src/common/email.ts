// Email addresses: validation and the one normalized form they are stored, compared and mailed in.
import { domainToASCII } from 'node:url';
import { BadUserInputError } from './errors';
import { CONTROL } from './validation';

// Invisible in an address yet a different string: controls, format (zero-width, bidi), separators, ignorables.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;
// RFC 5322 dot-atom: atext runs joined by single dots. No quotes, commas, colons, brackets or spaces, so
// nodemailer's address parser can never read it as a group, a list or a display name.
const DOT_ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;
// What a domain may be typed with before IDNA mapping: letters, marks, digits, hyphens and the IDNA full stops.
// Excludes '%', brackets and colons, which the WHATWG host parser would decode or read as an IP literal.
const DOMAIN_INPUT = /^[\p{L}\p{M}\p{N}\-.\u3002\uff0e\uff61]+$/u;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// A top-level domain is letters (or an IDN's xn-- form): rules out 127.0.0.1 and other numeric hosts.
const TLD = /^([a-z]{2,63}|xn--[a-z0-9-]{2,59})$/;
export const EMAIL_MAX = 254;

const SYNTAX =
  "must be an email address like name@example.com: letters, digits and .!#$%&'*+/=?^_`{|}~- before the @ " +
  '(no two dots in a row), a domain name after it; no quotes, commas, groups or IP addresses';

/** The domain in its one stored form, ASCII (IDNs as punycode, xn--…), or null when it is no domain name. */
function asciiDomain(raw: string): string | null {
  if (!DOMAIN_INPUT.test(raw)) return null;
  const ascii = domainToASCII(raw); // UTS #46: case folding, width mapping, punycode; '' when invalid
  if (ascii === '' || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !TLD.test(labels[labels.length - 1]!)) return null;
  return ascii;
}

/**
 * The form emails are stored, compared and mailed in: trimmed, the local part lower-cased, the domain as
 * lower-case ASCII (an IDN as punycode). An ASCII address only loses case, so stored emails keep their form.
 */
export function normalizeEmail(raw: string, field = 'email'): string {
  const trimmed = raw.trim();
  const reasons: string[] = [];
  const invisible = CONTROL.test(trimmed) || INVISIBLE.test(trimmed);
  if (invisible) reasons.push('must not contain control, invisible (zero-width) or text-direction characters');
  const at = trimmed.lastIndexOf('@');
  const local = trimmed.slice(0, Math.max(at, 0));
  const domain = at < 0 || trimmed.length > 4 * EMAIL_MAX ? null : asciiDomain(trimmed.slice(at + 1));
  const email = `${local.toLowerCase()}@${domain ?? trimmed.slice(at + 1).toLowerCase()}`;
  if (email.length > EMAIL_MAX) reasons.push(`must be at most ${EMAIL_MAX} characters`);
  if (!invisible && (at < 1 || local.length > 64 || !DOT_ATOM.test(local) || domain === null)) reasons.push(SYNTAX);
  if (reasons.length > 0) throw new BadUserInputError(field, reasons);
  return email;
}
