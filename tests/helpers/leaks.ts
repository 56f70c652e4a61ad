// What the leak scans look for: a secret standing on its own in a text (a JSON value, a word in a mail or a log line).

/**
 * Whether `secret` is in `text` on its own, not inside a longer run of letters and digits: a 6-digit code is no leak
 * as the middle of a millisecond timestamp in an address (uniqueEmail's `user3.1796630836595@example.com`).
 */
export function standsIn(text: string, secret: string): boolean {
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`).test(text);
}
