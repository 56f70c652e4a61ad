// Every email template of src/modules/mail/templates.ts, rendered as it is sent (`branded` with APP_NAME): the
// subject and both bodies name APP_NAME; the HTML part says what the text part says, with values a person or a
// provider chose escaped; a code email's text holds its code as the only run of 6+ digits (CONTRACT.md "One-time
// codes") and its HTML shows it; no email holds a value it was not given. A template exported without a case here
// fails the first test (and the Record below fails the typecheck).
import * as templates from '../src/modules/mail/templates';
import { branded, CODE_EMAIL_KINDS, type Email, type EmailKind } from '../src/modules/mail/templates';
import { OtpPurpose } from '../src/modules/otp/otp-purpose';
import { extractCode } from './helpers/smtp';

const APP_NAME = 'Lanternfish Vault';
const DEFAULT_APP_NAME = 'Portcullis';

/** A name someone else chose (an API key's, a provider's, a browser's as a User-Agent claims it): hostile HTML. */
const hostile = (what: string) => `<script>alert("${what}")</script> & <b onmouseover='${what}'>`;

/** The one-time codes given to the code emails: a leading zero each, no two alike. */
const CODES: Record<OtpPurpose, string> = {
  [OtpPurpose.VERIFY_EMAIL]: '041733',
  [OtpPurpose.LOGIN]: '097215',
  [OtpPurpose.RESET_PASSWORD]: '060482',
  [OtpPurpose.CHANGE_EMAIL]: '083390',
};

/** The exports that make an email from what it is told (every function but `branded`). */
type Templates = typeof templates;
type TemplateName = Exclude<
  { [K in keyof Templates]: Templates[K] extends (...args: never[]) => Email ? K : never }[keyof Templates],
  'branded'
>;

interface Rendered {
  /** Which template with which arguments, for failure messages. */
  readonly label: string;
  /** The email as the template made it, before branding. */
  readonly email: Email;
  /** Every value it was given to show (person- or provider-chosen ones are hostile HTML). */
  readonly given: readonly string[];
  /** The code of a code email. */
  readonly code?: string;
}

const AT = new Date('2031-07-14T09:26:00.000Z');

/** One case (or more, one per meaningful argument) for every template. */
const CASES: Record<TemplateName, () => Rendered[]> = {
  codeEmail: () =>
    Object.values(OtpPurpose).map((purpose) => ({
      label: `codeEmail(${purpose})`,
      email: templates.codeEmail(purpose, CODES[purpose], 600),
      given: [CODES[purpose]],
      code: CODES[purpose],
    })),
  alreadyRegisteredEmail: () => [
    { label: 'alreadyRegisteredEmail()', email: templates.alreadyRegisteredEmail(), given: [] },
  ],
  identityLinkedEmail: () => [
    {
      label: 'identityLinkedEmail',
      email: templates.identityLinkedEmail(hostile('linked provider')),
      given: [hostile('linked provider')],
    },
  ],
  identityUnlinkedEmail: () => [
    {
      label: 'identityUnlinkedEmail',
      email: templates.identityUnlinkedEmail(hostile('unlinked provider')),
      given: [hostile('unlinked provider')],
    },
  ],
  mfaFactorAddedEmail: () => [
    {
      label: 'mfaFactorAddedEmail',
      email: templates.mfaFactorAddedEmail(`An authenticator app (${hostile('added factor')})`),
      given: [`An authenticator app (${hostile('added factor')})`],
    },
  ],
  mfaFactorRemovedEmail: () =>
    [true, false].map((mfaOff) => ({
      label: `mfaFactorRemovedEmail(mfaOff: ${mfaOff})`,
      email: templates.mfaFactorRemovedEmail(`A passkey (${hostile(`removed factor ${mfaOff}`)})`, mfaOff),
      given: [`A passkey (${hostile(`removed factor ${mfaOff}`)})`],
    })),
  apiKeyCreatedEmail: () => [
    {
      label: 'apiKeyCreatedEmail',
      email: templates.apiKeyCreatedEmail(hostile('key name'), 'pcl_QxWvTzRk'),
      given: [hostile('key name'), 'pcl_QxWvTzRk'],
    },
  ],
  passwordChangedEmail: () => [{ label: 'passwordChangedEmail()', email: templates.passwordChangedEmail(), given: [] }],
  passwordResetEmail: () => [{ label: 'passwordResetEmail()', email: templates.passwordResetEmail(), given: [] }],
  // An address may hold & and ' (RFC 5321 local part): escaped like any other value.
  emailChangedEmail: () => [
    {
      label: 'emailChangedEmail',
      email: templates.emailChangedEmail("o'hara&sons.moved@example.com"),
      given: ["o'hara&sons.moved@example.com"],
    },
  ],
  accountDeletedEmail: () => [{ label: 'accountDeletedEmail()', email: templates.accountDeletedEmail(), given: [] }],
  newDeviceEmail: () => [
    {
      label: 'newDeviceEmail',
      email: templates.newDeviceEmail(`${hostile('browser')} on Haiku`, '198.51.100.0/24', AT),
      given: [`${hostile('browser')} on Haiku`, '198.51.100.0/24'],
    },
  ],
};

/** Every kind of email there is (the typecheck fails when EmailKind gains one not listed). */
const KINDS: Record<EmailKind, true> = {
  'verify-email': true,
  'login-code': true,
  'reset-code': true,
  'change-email-code': true,
  'already-registered': true,
  'identity-linked': true,
  'identity-unlinked': true,
  'mfa-factor-added': true,
  'mfa-factor-removed': true,
  'api-key-created': true,
  'password-changed': true,
  'password-reset': true,
  'email-changed': true,
  'account-deleted': true,
  'new-device': true,
};

const rendered: Rendered[] = Object.values(CASES).flatMap((render) => render());
const sent = rendered.map((r) => ({ ...r, mail: branded(APP_NAME, r.email) }));
const byLabel = sent.map((s) => [s.label, s] as const);

/** What a person reads in the HTML part: tags dropped, entities decoded, white space collapsed. */
function readHtml(html: string): string {
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return words(
    html
      .replace(/<[^>]*>/g, ' ')
      .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) =>
        name.startsWith('#x') || name.startsWith('#X')
          ? String.fromCodePoint(parseInt(name.slice(2), 16))
          : name.startsWith('#')
            ? String.fromCodePoint(Number(name.slice(1)))
            : (entities[name.toLowerCase()] ?? whole),
      ),
  );
}

/** The markup the templates write themselves: paragraphs, the code's styled paragraph. */
const OWN_TAG = /^<\/?p( style="[a-z0-9:;-]*")?>$/;

const words = (text: string): string => text.replace(/\s+/g, ' ').trim();

describe('the templates module', () => {
  it('has a case here for every template it exports, and the cases make every kind of email', () => {
    const exported = Object.entries(templates)
      .filter(([name, value]) => typeof value === 'function' && name !== 'branded')
      .map(([name]) => name)
      .sort();
    expect(exported).toEqual(Object.keys(CASES).sort());
    expect([...new Set(rendered.map((r) => r.email.kind))].sort()).toEqual(Object.keys(KINDS).sort());
    // The kinds metrics count as code emails are exactly those made with a code.
    expect([...CODE_EMAIL_KINDS].sort()).toEqual(
      [...new Set(rendered.filter((r) => r.code !== undefined).map((r) => r.email.kind))].sort(),
    );
  });
});

describe.each(byLabel)('%s, as sent', (_label, { email, mail, given, code }) => {
  it('names APP_NAME: the subject is "APP_NAME: <subject>", and both bodies end with it', () => {
    expect(email.subject.length).toBeGreaterThan(0);
    expect(mail.subject).toBe(`${APP_NAME}: ${email.subject}`);
    expect(mail.kind).toBe(email.kind);
    const lines = mail.text.trimEnd().split('\n');
    expect(lines[lines.length - 1]).toContain(APP_NAME);
    expect(mail.html).toContain(APP_NAME);
    expect(readHtml(mail.html).endsWith(APP_NAME)).toBe(true);
  });

  it('says the same in HTML as in plain text, every given value escaped in the HTML and shown as it is in text', () => {
    expect(readHtml(mail.html)).toBe(words(mail.text));
    for (const value of given) {
      expect(mail.text).toContain(value);
      expect(readHtml(mail.html)).toContain(words(value));
    }
    // Only the template's own markup: a value let through unescaped would add a <script> or an <b onmouseover=…>.
    for (const tag of mail.html.match(/<[^>]*>/g) ?? []) expect(tag).toMatch(OWN_TAG);
  });

  it('holds no value it was not given: no other email’s, no default product name, nothing undefined', () => {
    const others = rendered.flatMap((r) => r.given).filter((value) => !given.includes(value));
    for (const part of [mail.subject, mail.text, readHtml(mail.html)]) {
      for (const value of others) expect(part).not.toContain(value);
      expect(part).not.toContain(DEFAULT_APP_NAME);
      expect(part).not.toMatch(/undefined|null|NaN|\[object /);
    }
  });

  if (code === undefined) {
    it('holds no run of 6 or more digits anywhere (nothing in it reads as a code)', () => {
      expect(`${mail.subject}\n${mail.text}\n${readHtml(mail.html)}`).not.toMatch(/\d{6}/);
    });
  } else {
    it('holds its code as the only run of 6+ digits in the text, and shows it in the HTML', () => {
      expect(extractCode(mail.text)).toBe(code);
      expect(mail.html).toContain(code);
      expect(readHtml(mail.html).match(/\d{6,}/g)).toEqual([code]);
      expect(mail.subject).not.toMatch(/\d{6}/);
    });
  }
});

describe('branded', () => {
  it('escapes APP_NAME in the HTML part and keeps it as it is in the subject and text', () => {
    const name = 'Q&A <Labs>';
    const mail = branded(name, templates.passwordChangedEmail());
    expect(mail.subject).toBe(`${name}: Your password was changed`);
    expect(mail.text.trimEnd().endsWith(name)).toBe(true);
    expect(mail.html).not.toContain('<Labs>');
    expect(readHtml(mail.html).endsWith(name)).toBe(true);
  });

  it('leaves a code email readable: the code stays the only run of 6+ digits whatever the lifetime', () => {
    for (const ttl of [60, 600, 3600, 86_400]) {
      const mail = branded(APP_NAME, templates.codeEmail(OtpPurpose.LOGIN, '000000', ttl));
      expect(extractCode(mail.text)).toBe('000000');
    }
  });
});

describe('newDeviceEmail', () => {
  it('names the device, the network prefix and the time in UTC', () => {
    const mail = branded(APP_NAME, templates.newDeviceEmail('Firefox on Windows', '203.0.113.0/24', AT));
    expect(mail.subject).toBe(`${APP_NAME}: New sign-in to your account`);
    for (const part of [mail.text, readHtml(mail.html)]) {
      expect(part).toContain('Firefox on Windows');
      expect(part).toContain('203.0.113.0/24');
      expect(part).toContain('2031-07-14 09:26');
      expect(part).toContain('UTC');
    }
  });
});
