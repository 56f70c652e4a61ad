// A real OpenID provider (oidc-provider) for the integration tests, in a child process, with /__test/ controls.
// Started by tests/helpers/oidc-provider.ts with a JSON config in env OIDC_FIXTURE_CONFIG:
//   { clients: [{ client_id, client_secret, redirect_uris, token_endpoint_auth_method? }], port?: number }
// Prints `oidc-provider listening on http://127.0.0.1:<port>` (the issuer) once it answers requests.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import { SignJWT, base64url, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { Provider } from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_FIXTURE_CONFIG ?? '{}');
const clients = (config.clients ?? []).map((client) => ({
  token_endpoint_auth_method: 'client_secret_post',
  ...client,
  grant_types: ['authorization_code'],
  response_types: ['code'],
}));

// RS256: the default id_token_signed_response_alg of a client that registers none, as relying parties expect.
const ALG = 'RS256';
const KID = `fixture-${randomUUID()}`;
const signing = await generateKeyPair(ALG, { extractable: true });
// Never published: an ID token signed with it, under the published kid, must fail verification.
const foreign = await generateKeyPair(ALG, { extractable: true });
const privateJwk = { ...(await exportJWK(signing.privateKey)), kid: KID, alg: ALG, use: 'sig' };

/** Account claims by sub; an account the test did not define is just `{ sub }`. */
const accounts = new Map();
/** The change to make to the next token response's id_token, or null. */
let pendingTamper = null;

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port ?? 0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [privateJwk] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  // Put the scope's claims in the ID token itself: the relying party reads the profile from it, not from userinfo.
  conformIdTokenClaims: false,
  // hd with openid: like Google, the ID token carries it whenever the account has one.
  claims: { openid: ['sub', 'hd'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { ...accounts.get(sub), sub };
      },
    };
  },
});
// A dev issuer on plain http: the provider runs behind no proxy, ctx.secure is false, cookies are set without Secure.
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !pendingTamper || ctx.status !== 200) return;
  const body = ctx.body;
  if (!body || typeof body !== 'object' || typeof body.id_token !== 'string') return;
  const change = pendingTamper;
  pendingTamper = null;
  const [, payloadPart] = body.id_token.split('.');
  const payload = { ...JSON.parse(new TextDecoder().decode(base64url.decode(payloadPart))), ...change.claims };
  for (const name of change.removeClaims ?? []) delete payload[name];
  const header = decodeProtectedHeader(body.id_token);
  body.id_token = await sign(payload, change.foreignKey, header);
});

/** Signs `payload` as is (no claims added) with the provider's key or the foreign one, under the provider's kid. */
function sign(payload, foreignKey, header = { alg: ALG, kid: KID, typ: 'JWT' }) {
  return new SignJWT(payload).setProtectedHeader(header).sign(foreignKey ? foreign.privateKey : signing.privateKey);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const control = {
  'GET /__test/health': async () => ({ ok: true }),
  'POST /__test/accounts': async (body) => {
    if (typeof body.sub !== 'string' || !body.sub) throw new Error('sub is required');
    accounts.set(body.sub, body);
    return { ok: true };
  },
  'POST /__test/tamper': async (body) => {
    if (body.claims !== undefined && !isObject(body.claims)) throw new Error('claims must be an object');
    pendingTamper = { claims: body.claims ?? {}, removeClaims: body.removeClaims ?? [], foreignKey: !!body.foreignKey };
    return { ok: true };
  },
  'POST /__test/id-token': async (body) => {
    if (!isObject(body.claims)) throw new Error('claims must be an object');
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: issuer, iat: now, exp: now + 600, ...body.claims };
    // null removes a default (iss, iat, exp); any other claim is passed as given.
    for (const name of ['iss', 'iat', 'exp']) if (payload[name] === null) delete payload[name];
    return { idToken: await sign(payload, !!body.foreignKey) };
  },
};

const oidc = provider.callback();
server.on('request', (req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (!path.startsWith('/__test/')) return oidc(req, res);
  const handler = control[`${req.method} ${path}`];
  const reply = (status, value) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  if (!handler) return reply(404, { error: `no control endpoint ${req.method} ${path}` });
  readJson(req)
    .then(handler)
    .then(
      (value) => reply(200, value),
      (err) => reply(400, { error: String(err?.message ?? err) }),
    );
});

process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

console.log(`oidc-provider listening on ${issuer}`);
