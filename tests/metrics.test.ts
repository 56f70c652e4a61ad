// GET /metrics: Prometheus text with process metrics and the service's own counters, optionally behind a token.
import { scrapeMetrics } from './helpers/client';
import { login, PASSWORD, refresh, signUp, uniqueEmail, register } from './helpers/flows';
import { eventually } from './helpers/eventually';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

/** The value of one series, e.g. value(text, 'portcullis_codes_total{event="sent"}'); 0 when absent. */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const scrape = (app: TestApp, token?: string) => scrapeMetrics(app.url, token);

describe('metrics', () => {
  let app: TestApp;
  beforeAll(async () => {
    // A zero grace window: replaying a rotated refresh token is reuse as soon as the clock has moved on.
    app = await startTestApp({
      realClock: true,
      env: { RATE_LIMIT_LOGIN_IP_EMAIL: '3/30s', REFRESH_GRACE_WINDOW: '0' },
    });
  });
  afterAll(async () => app.stop());

  it('counts sign-ins by method and outcome, codes, refresh-token reuse and request durations by operation', async () => {
    const before = (await scrape(app)).text;
    const user = await signUp(app); // a code sent and accepted, a code sign-in
    await login(app, user.user.email, 'Wrong-Password-1');
    const rotated = (await refresh(app, user.refreshToken)).data!.refresh;
    const rotatedBy = Date.now(); // the rotation was stored before its answer came
    expect(rotated.refreshToken).toBeDefined();
    await eventually(() => Date.now() > rotatedBy); // a later millisecond: past the zero grace window
    expect(errorCode(await refresh(app, user.refreshToken))).toBe('UNAUTHENTICATED');
    await app.gql('query Probe { me { id } }', {}, { token: rotated.accessToken });

    const { status, text } = await scrape(app);
    expect(status).toBe(200);
    const delta = (series: string) => value(text, series) - value(before, series);
    expect(delta('portcullis_sign_ins_total{method="code",outcome="success"}')).toBe(1);
    expect(delta('portcullis_sign_ins_total{method="password",outcome="failure"}')).toBe(1);
    expect(delta('portcullis_codes_total{event="sent"}')).toBe(1);
    expect(delta('portcullis_codes_total{event="accepted"}')).toBe(1);
    expect(delta('portcullis_refresh_token_reuse_total')).toBe(1);
    expect(value(text, 'portcullis_graphql_request_duration_seconds_count{operation="me"}')).toBe(1);
    expect(text).toContain('process_cpu_user_seconds_total');
  }, 30_000);

  it('counts rate-limit hits by limit', async () => {
    const email = uniqueEmail('metrics-limit');
    const before = value((await scrape(app)).text, 'portcullis_rate_limit_hits_total{limit="login-ip-email"}');
    for (let i = 0; i < 4; i++) await login(app, email, PASSWORD);
    const after = value((await scrape(app)).text, 'portcullis_rate_limit_hits_total{limit="login-ip-email"}');
    expect(after - before).toBe(1);
  });

  it('shows the outbox depth and counts send failures while the mail server is down', async () => {
    await app.smtp.stop();
    try {
      await register(app, uniqueEmail('metrics-mail'));
      const text = await eventually(
        async () => (await scrape(app)).text,
        (t) => value(t, 'portcullis_mail_send_failures_total') > 0,
      );
      expect(value(text, 'portcullis_mail_outbox_depth')).toBeGreaterThanOrEqual(1);
      expect(value(text, 'portcullis_mail_send_failures_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await app.smtp.start();
    }
    const drained = await eventually(
      async () => value((await scrape(app)).text, 'portcullis_mail_outbox_depth'),
      (depth) => depth === 0,
    );
    expect(drained).toBe(0);
  });
});

describe('metrics with METRICS_TOKEN', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { METRICS_TOKEN: 'scrape-secret-123' } });
  });
  afterAll(async () => app.stop());

  it('refuses a scrape without the token and serves one with it', async () => {
    expect((await scrape(app)).status).toBe(401);
    expect((await scrape(app, 'wrong')).status).toBe(401);
    const ok = await scrape(app, 'scrape-secret-123');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('portcullis_sign_ins_total');
  });
});
