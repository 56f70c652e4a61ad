// The passkey harness (tests/helpers/webauthn.ts) against @simplewebauthn/server alone, no Portcullis: real
// ceremonies in Chromium with a CDP virtual authenticator, on a blank page served here as http://localhost:PORT/
// (RP ID `localhost`) under `default-src 'none'`, which the injected browser bundle does not need. What the virtual
// authenticator does with user verification and its signature counter is pinned here, as are the forgeries
// (another challenge, a rewritten origin, another RP ID, a lying authenticator) the server refuses.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import type { Browser } from 'playwright-core';
import { hasChromium, launchChromium } from './helpers/browser';
import {
  authenticatorDataOf,
  clientDataOf,
  openPasskeyDevice,
  withClientData,
  type PasskeyDevice,
} from './helpers/webauthn';

const withChromium = hasChromium('tests/webauthn-harness.test.ts');
const RP_ID = 'localhost';
const PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>Passkeys</title></head><body></body></html>';

let pages: Server;
let origin: string;
let browser: Browser | undefined;
const devices: PasskeyDevice[] = [];

beforeAll(async () => {
  pages = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  origin = `http://localhost:${(pages.address() as AddressInfo).port}`;
  if (withChromium) browser = await launchChromium();
}, 60_000);

afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.close()));
});

afterAll(async () => {
  await browser?.close();
  pages?.closeAllConnections();
  await new Promise((resolve) => pages?.close(resolve));
});

/** What the tests read and write in a page (the DOM's types are not in this project's lib). */
type PageGlobals = {
  document: { cookie: string };
  localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
};

async function openDevice(): Promise<PasskeyDevice> {
  const device = await openPasskeyDevice(browser!, `${origin}/`);
  devices.push(device);
  return device;
}

/** A new device with one discoverable passkey, registered and verified; the credential as the server keeps it. */
async function deviceWithPasskey(): Promise<{ device: PasskeyDevice; credential: WebAuthnCredential; userID: string }> {
  const device = await openDevice();
  const options = await generateRegistrationOptions({
    rpName: 'Portcullis tests',
    rpID: RP_ID,
    userName: 'ada@example.com',
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  });
  const { registrationInfo } = await verifyRegistrationResponse({
    response: await device.register(options),
    expectedChallenge: options.challenge,
    expectedOrigin: origin,
    expectedRPID: RP_ID,
  });
  return { device, credential: registrationInfo!.credential, userID: options.user.id };
}

/** A discoverable sign-in (no allowCredentials): the options and the device's answer. */
async function signIn(device: PasskeyDevice, userVerification: 'required' | 'preferred' | 'discouraged' = 'preferred') {
  const options = await generateAuthenticationOptions({ rpID: RP_ID, userVerification });
  return { options, response: await device.authenticate(options) };
}

function verify(
  response: AuthenticationResponseJSON,
  credential: WebAuthnCredential,
  expected: { challenge: string; origin?: string; rpID?: string; requireUserVerification?: boolean },
) {
  return verifyAuthenticationResponse({
    response,
    credential,
    expectedChallenge: expected.challenge,
    expectedOrigin: expected.origin ?? origin,
    expectedRPID: expected.rpID ?? RP_ID,
    requireUserVerification: expected.requireUserVerification ?? true,
  });
}

const inBrowser = withChromium ? describe : describe.skip;

inBrowser('passkeys of a virtual authenticator in Chromium, verified by @simplewebauthn/server', () => {
  it('registers a discoverable passkey with UV, which the authenticator then holds', async () => {
    const device = await openDevice();
    const options = await generateRegistrationOptions({
      rpName: 'Portcullis tests',
      rpID: RP_ID,
      userName: 'ada@example.com',
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    });
    const response = await device.register(options);
    const verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: origin,
      expectedRPID: RP_ID,
      requireUserVerification: true,
    });

    expect(verification.verified).toBe(true);
    const info = verification.registrationInfo!;
    expect(info).toMatchObject({ fmt: 'none', userVerified: true, origin, rpID: RP_ID, credentialBackedUp: false });
    expect(response).toMatchObject({ id: info.credential.id, authenticatorAttachment: 'platform' });
    expect(response.response.transports).toEqual(['internal']);
    expect(authenticatorDataOf(response).flags).toMatchObject({
      userPresent: true,
      userVerified: true,
      attestedCredentialData: true,
    });
    expect(await device.credentials()).toEqual([
      {
        credentialId: info.credential.id,
        rpId: RP_ID,
        isResidentCredential: true,
        userHandle: options.user.id,
        signCount: info.credential.counter,
      },
    ]);
  });

  it("opens a device in a closed device's tab with none of its passkeys, overrides, cookies or storage", async () => {
    const { device: first } = await deviceWithPasskey();
    await first.setResponseOverrides({ bogusSignature: true });
    await first.page.evaluate(() => {
      const page = globalThis as unknown as PageGlobals;
      page.document.cookie = 'left=behind; path=/';
      page.localStorage.setItem('left', 'behind');
    });
    await first.close();

    const second = await openDevice();
    expect(second.page).toBe(first.page); // the same tab: no new renderer
    expect(await second.credentials()).toEqual([]);
    await expect(signIn(second)).rejects.toThrow(/^startAuthentication failed: NotAllowedError/);
    const left = await second.page.evaluate(() => {
      const page = globalThis as unknown as PageGlobals;
      return [page.document.cookie, page.localStorage.getItem('left')];
    });
    expect(left).toEqual(['', null]);
    await second.close(); // and the tab, reused once more, still registers and signs in
    const { device: third, credential } = await deviceWithPasskey();
    expect(third.page).toBe(first.page);
    const { options, response } = await signIn(third);
    expect((await verify(response, credential, { challenge: options.challenge })).verified).toBe(true);
  });

  it("refuses, in the browser, options for an RP ID the page's origin cannot claim", async () => {
    const device = await openDevice();
    const options = await generateRegistrationOptions({ rpName: 'Elsewhere', rpID: 'example.com', userName: 'ada' });
    await expect(device.register(options)).rejects.toThrow(
      'startRegistration failed: SecurityError (ERROR_INVALID_RP_ID): The RP ID "example.com" is invalid for this domain',
    );
    expect(await device.credentials()).toEqual([]);
  });

  it('signs in without allowCredentials, with UV while the device verifies the user', async () => {
    const { device, credential, userID } = await deviceWithPasskey();
    const { options, response } = await signIn(device, 'preferred');
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(response).toMatchObject({ id: credential.id, response: { userHandle: userID } });

    const { verified, authenticationInfo } = await verify(response, credential, { challenge: options.challenge });
    expect(verified).toBe(true);
    expect(authenticationInfo).toMatchObject({ userVerified: true, credentialID: credential.id, origin, rpID: RP_ID });
  });

  it('asks for UV on "required" and "preferred", not on "discouraged"', async () => {
    const { device, credential } = await deviceWithPasskey();
    const uv: Record<string, boolean> = {};
    for (const userVerification of ['required', 'preferred', 'discouraged'] as const) {
      const { options, response } = await signIn(device, userVerification);
      const { verified, authenticationInfo } = await verify(response, credential, {
        challenge: options.challenge,
        requireUserVerification: false,
      });
      expect(verified).toBe(true);
      expect(authenticationInfo.userVerified).toBe(authenticatorDataOf(response).flags.userVerified);
      uv[userVerification] = authenticationInfo.userVerified;
    }
    expect(uv).toEqual({ required: true, preferred: true, discouraged: false });
  });

  it('after setUserVerified(false), fails UV: "required" and "preferred" reject, "discouraged" signs in with UV=0', async () => {
    const { device, credential } = await deviceWithPasskey();
    await device.setUserVerified(false);
    for (const userVerification of ['required', 'preferred'] as const) {
      await expect(signIn(device, userVerification)).rejects.toThrow(/^startAuthentication failed: NotAllowedError/);
    }

    const { options, response } = await signIn(device, 'discouraged');
    expect(authenticatorDataOf(response).flags).toMatchObject({ userPresent: true, userVerified: false });
    const { verified, authenticationInfo } = await verify(response, credential, {
      challenge: options.challenge,
      requireUserVerification: false,
    });
    expect(verified).toBe(true);
    expect(authenticationInfo.userVerified).toBe(false);
    await expect(verify(response, credential, { challenge: options.challenge })).rejects.toThrow(
      'User verification required, but user could not be verified',
    );

    await device.setUserVerified(true);
    const again = await signIn(device, 'preferred');
    expect(authenticatorDataOf(again.response).flags.userVerified).toBe(true);
  });

  it('opened with userVerified: false, registers nothing, whatever the options ask, until the user is verified', async () => {
    const device = await openPasskeyDevice(browser!, `${origin}/`, { userVerified: false });
    devices.push(device);
    const registration = (residentKey: 'required' | 'discouraged', userVerification: 'preferred' | 'discouraged') =>
      generateRegistrationOptions({
        rpName: 'Portcullis tests',
        rpID: RP_ID,
        userName: 'ada@example.com',
        authenticatorSelection: { residentKey, userVerification },
      });
    for (const [residentKey, userVerification] of [
      ['required', 'preferred'],
      ['required', 'discouraged'],
      ['discouraged', 'discouraged'],
    ] as const) {
      await expect(device.register(await registration(residentKey, userVerification))).rejects.toThrow(
        /^startRegistration failed: NotAllowedError/,
      );
    }
    expect(await device.credentials()).toEqual([]);

    await device.setUserVerified(true);
    await device.register(await registration('required', 'preferred'));
    expect(await device.credentials()).toHaveLength(1);
  });

  it('answers with UV=0 even to "required" under the badUV override, which a server requiring UV refuses', async () => {
    const { device, credential } = await deviceWithPasskey();
    await device.setResponseOverrides({ badUV: true });
    const preferred = await signIn(device, 'preferred');
    const lenient = await verify(preferred.response, credential, {
      challenge: preferred.options.challenge,
      requireUserVerification: false,
    });
    expect(lenient.verified).toBe(true);
    expect(lenient.authenticationInfo.userVerified).toBe(false);

    const required = await signIn(device, 'required');
    expect(authenticatorDataOf(required.response).flags.userVerified).toBe(false);
    await expect(verify(required.response, credential, { challenge: required.options.challenge })).rejects.toThrow(
      'User verification required, but user could not be verified',
    );

    await device.setResponseOverrides({});
    const honest = await signIn(device, 'required');
    expect(authenticatorDataOf(honest.response).flags.userVerified).toBe(true);
  });

  it('counts signatures: 1 at registration, one more per assertion, as newCounter and in credentials()', async () => {
    const { device, credential } = await deviceWithPasskey();
    expect(credential.counter).toBe(1);
    const counters: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { options, response } = await signIn(device);
      const { authenticationInfo } = await verify(response, credential, { challenge: options.challenge });
      expect(authenticatorDataOf(response).signCount).toBe(authenticationInfo.newCounter);
      credential.counter = authenticationInfo.newCounter;
      counters.push(authenticationInfo.newCounter);
    }
    expect(counters).toEqual([2, 3, 4]);
    expect((await device.credentials()).map((c) => c.signCount)).toEqual([4]);
  });

  it("refuses a replayed response by its counter, once the server has stored a later one's", async () => {
    const { device, credential } = await deviceWithPasskey();
    const first = await signIn(device);
    const second = await signIn(device);
    const { authenticationInfo } = await verify(second.response, credential, { challenge: second.options.challenge });
    await expect(
      verify(
        first.response,
        { ...credential, counter: authenticationInfo.newCounter },
        { challenge: first.options.challenge },
      ),
    ).rejects.toThrow(/^Response counter value 2 was lower than expected 3$/);
  });

  describe('forgeries', () => {
    it('withClientData re-encodes faithfully: an unchanged rewrite still verifies', async () => {
      const { device, credential } = await deviceWithPasskey();
      const { options, response } = await signIn(device);
      expect(clientDataOf(response)).toMatchObject({
        type: 'webauthn.get',
        challenge: options.challenge,
        origin,
        crossOrigin: false,
      });
      const rewritten = withClientData(response, () => {});
      expect(rewritten).not.toBe(response);
      const { verified } = await verify(rewritten, credential, { challenge: options.challenge });
      expect(verified).toBe(true);
    });

    it('refuses a response to another challenge, and a challenge rewritten in the client data', async () => {
      const { device, credential } = await deviceWithPasskey();
      const { response } = await signIn(device);
      const other = await generateAuthenticationOptions({ rpID: RP_ID });
      await expect(verify(response, credential, { challenge: other.challenge })).rejects.toThrow(
        /^Unexpected authentication response challenge/,
      );
      // The client data passes its check now, but the signature covers its hash.
      const forged = withClientData(response, (clientData) => {
        clientData.challenge = other.challenge;
      });
      const { verified } = await verify(forged, credential, { challenge: other.challenge });
      expect(verified).toBe(false);
    });

    it('refuses a rewritten origin: for the origin check, and by the signature where that origin is expected', async () => {
      const { device, credential } = await deviceWithPasskey();
      const { options, response } = await signIn(device);
      const forged = withClientData(response, (clientData) => {
        clientData.origin = 'https://evil.example';
      });
      await expect(verify(forged, credential, { challenge: options.challenge })).rejects.toThrow(
        `Unexpected authentication response origin "https://evil.example", expected "${origin}"`,
      );
      const { verified } = await verify(forged, credential, {
        challenge: options.challenge,
        origin: 'https://evil.example',
      });
      expect(verified).toBe(false);
    });

    it('refuses a registration whose client data names another origin', async () => {
      const device = await openDevice();
      const options = await generateRegistrationOptions({ rpName: 'Portcullis tests', rpID: RP_ID, userName: 'ada' });
      const forged = withClientData(await device.register(options), (clientData) => {
        clientData.origin = 'https://evil.example';
      });
      await expect(
        verifyRegistrationResponse({
          response: forged,
          expectedChallenge: options.challenge,
          expectedOrigin: origin,
          expectedRPID: RP_ID,
        }),
      ).rejects.toThrow(/^Unexpected registration response origin "https:\/\/evil\.example"/);
    });

    it('refuses a response for the RP ID localhost where example.com is expected', async () => {
      const { device, credential } = await deviceWithPasskey();
      const { options, response } = await signIn(device);
      expect(authenticatorDataOf(response).rpIdHash).toBe(createHash('sha256').update(RP_ID).digest('hex'));
      await expect(verify(response, credential, { challenge: options.challenge, rpID: 'example.com' })).rejects.toThrow(
        'Unexpected RP ID hash',
      );
    });

    it('refuses a bogus signature and a response without user presence', async () => {
      const { device, credential } = await deviceWithPasskey();
      await device.setResponseOverrides({ bogusSignature: true });
      const bogus = await signIn(device);
      const { verified } = await verify(bogus.response, credential, { challenge: bogus.options.challenge });
      expect(verified).toBe(false);

      await device.setResponseOverrides({ badUP: true });
      const absent = await signIn(device);
      expect(authenticatorDataOf(absent.response).flags.userPresent).toBe(false);
      await expect(verify(absent.response, credential, { challenge: absent.options.challenge })).rejects.toThrow(
        'User not present during authentication',
      );
    });
  });
});
