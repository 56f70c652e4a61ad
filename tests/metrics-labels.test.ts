// GET /metrics stays small whatever clients send: request durations are labelled by the schema's root fields
// (plus "multiple" and "other"), never by a client-chosen operation name. In production /metrics is served on
// the public port only with METRICS_TOKEN set, and then only for that token.
import { randomBytes } from 'node:crypto';
import { graphqlInit, httpRequest, scrapeMetrics } from './helpers/client';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const DURATION = 'portcullis_graphql_request_duration_seconds_count';
const PRODUCTION = { NODE_ENV: 'production', BCRYPT_COST: '10' };

const scrape = (app: TestApp, token?: string) => scrapeMetrics(app.url, token);

/** The `operation` label of every request-duration series, with its count. */
function operationCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const match of text.matchAll(new RegExp(`^${DURATION}\\{operation="([^"]*)"\\} (\\d+)$`, 'gm'))) {
    counts.set(match[1]!, Number(match[2]));
  }
  return counts;
}

async function post(app: TestApp, body: Record<string, unknown>): Promise<number> {
  return (await httpRequest(app.url, graphqlInit(body))).status;
}

describe('request-duration labels', () => {
  let app: TestApp;
  let rootFields: string[];
  beforeAll(async () => {
    app = await startTestApp();
    const res = await app.gql<{
      __schema: { queryType: { fields: { name: string }[] }; mutationType: { fields: { name: string }[] } };
    }>('{ __schema { queryType { fields { name } } mutationType { fields { name } } } }');
    const schema = res.data!.__schema;
    rootFields = [...schema.queryType.fields, ...schema.mutationType.fields].map((f) => f.name);
  });
  afterAll(() => app.stop());

  it('40 requests with huge, random operation names leave /metrics small, with only known labels', async () => {
    const before = await scrape(app);
    const huge = () => `Op${randomBytes(25_000).toString('hex')}`; // a 50 kB name, a valid GraphQL name
    for (let i = 0; i < 10; i++) {
      const name = huge();
      await post(app, { query: `query ${name} { me { id } }`, operationName: name }); // an operation of that name
      await post(app, { query: '{ me { id } }', operationName: huge() }); // a name the document does not have
      await post(app, { query: `query ${huge()} { ${huge().slice(0, 200)} }` }); // an unknown root field
      await post(app, { query: `mutation ${name} { a: logout b: logout }`, operationName: name }); // aliases
    }

    const after = await scrape(app);
    expect(after.status).toBe(200);
    expect(after.text.length - before.text.length).toBeLessThan(20_000); // 40 × 50 kB would be 2 MB
    const labels = [...operationCounts(after.text).keys()];
    expect(labels.length).toBeGreaterThan(0);
    for (const label of labels) expect([...rootFields, 'multiple', 'other']).toContain(label);
  });

  it('labels a request by its root field, whatever the aliases, and several root fields as "multiple"', async () => {
    const before = operationCounts((await scrape(app)).text);

    await post(app, { query: 'query AnyName { whoAmI: me { id } }' });
    await post(app, { query: 'query { __typename me { id } }' });
    await post(app, { query: 'query Q { ...F } fragment F on Query { me { id } }' });
    await post(app, { query: 'query Both { me { id } sessions { id } }' });
    await post(app, { query: '{ __schema { queryType { name } } }' });
    await post(app, { query: '{ not valid' });

    const after = operationCounts((await scrape(app)).text);
    const delta = (label: string) => (after.get(label) ?? 0) - (before.get(label) ?? 0);
    expect(delta('me')).toBe(3);
    expect(delta('multiple')).toBe(1);
    expect(delta('other')).toBe(2);
    expect(after.has('AnyName')).toBe(false);
    expect(after.has('Both')).toBe(false);
  });
});

describe('/metrics in production without METRICS_TOKEN', () => {
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: PRODUCTION })));
  afterAll(() => app.stop());

  it('is not served on the public port (404), while the server answers GraphQL', async () => {
    expect((await scrape(app)).status).toBe(404);
    expect((await scrape(app, 'anything')).status).toBe(404);
    expect(errorCode(await app.gql('{ me { id } }'))).toBe('UNAUTHENTICATED');
  });
});

describe('/metrics in production with METRICS_TOKEN', () => {
  const TOKEN = 'prod-scrape-secret-456';
  let app: TestApp;
  beforeAll(async () => void (app = await startTestApp({ env: { ...PRODUCTION, METRICS_TOKEN: TOKEN } })));
  afterAll(() => app.stop());

  it('serves the token and refuses no token or a wrong one with 401', async () => {
    const ok = await scrape(app, TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('portcullis_graphql_request_duration_seconds');
    expect((await scrape(app)).status).toBe(401);
    expect((await scrape(app, `${TOKEN}x`)).status).toBe(401);
  });
});
