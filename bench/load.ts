// The load generator: `node dist/bench/load.js spec.json`, run by run.ts pinned to its own core. Runs
// autocannon (a warm-up, then the measured run) as the spec says and prints one JSON LoadResult on stdout.
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  LOGIN_MUTATION,
  ME_QUERY,
  REFRESH_MUTATION,
  type EventLoopProbe,
  type LoadResult,
  type LoadSpec,
  type LoginLoad,
} from './scenarios';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** What one autocannon run needs besides the common options. */
interface Shape {
  readonly options: Partial<autocannon.Options>;
  /** True when a 2xx body is the answer the scenario expects (data, no errors). */
  readonly ok: (body: string) => boolean;
  /** Wrong answers only the scenario can see (a refresh answered with a token it had already given). */
  readonly wrong?: () => number;
}

function body(query: string, variables?: Record<string, string>): string {
  return JSON.stringify(variables ? { query, variables } : { query });
}

function shapeOf(spec: LoadSpec, warmup: boolean): Shape {
  switch (spec.kind) {
    case 'me': {
      const ok = (b: string): boolean => b.includes('"me":{"id":"') && !b.includes('"errors"');
      const bearer = spec.tokens.map((t) => `Bearer ${t}`);
      if (spec.rotate) {
        let next = 0;
        const request: autocannon.Request = {
          method: 'POST',
          body: body(ME_QUERY),
          setupRequest: (req) => {
            req.headers = { ...req.headers, authorization: bearer[next++ % bearer.length]! };
            return req;
          },
        };
        return { ok, options: { requests: [request] } };
      }
      let connection = 0;
      return {
        ok,
        options: {
          method: 'POST',
          body: body(ME_QUERY),
          setupClient: (client) =>
            client.setHeaders({ ...JSON_HEADERS, authorization: bearer[connection++ % bearer.length]! }),
        },
      };
    }
    case 'refresh': {
      const tokens = warmup ? spec.warmupTokens : spec.tokens;
      let connection = 0;
      let repeated = 0;
      return {
        ok: (b) => b.includes('"refreshToken":"') && !b.includes('"errors"'),
        // A grace-window replay answers with the successor it gave before: the chain would not be rotating.
        wrong: () => repeated,
        options: {
          // Every connection owns one session and sends the token the previous answer returned.
          setupClient: (client) => {
            const own = { token: tokens[connection++ % tokens.length]!, previous: '' };
            client.setRequests([
              {
                method: 'POST',
                setupRequest: (req) => ({ ...req, body: body(REFRESH_MUTATION, { t: own.token }) }),
                onResponse: (_status, text) => {
                  const next = /"refreshToken":"([^"]+)"/.exec(text)?.[1];
                  if (next === undefined) return;
                  if (next === own.token || next === own.previous) repeated++;
                  own.previous = own.token;
                  own.token = next;
                },
              },
            ]);
          },
        },
      };
    }
    case 'login':
      return {
        ok: (b) => b.includes('"accessToken":"') && !b.includes('"errors"'),
        options: { method: 'POST', body: body(LOGIN_MUTATION, { e: spec.email, p: spec.password }) },
      };
    case 'soak': {
      // A new email on every request; a random part so that no two runs (or instances) share one.
      const run = randomBytes(3).toString('hex');
      let n = 0;
      const request: autocannon.Request = {
        method: 'POST',
        setupRequest: (req) => ({
          ...req,
          body: body(LOGIN_MUTATION, { e: `soak-${run}-${++n}@${spec.domain}`, p: spec.password }),
        }),
      };
      // Every attempt must reach the password check: a RATE_LIMITED here would mean distinct emails share a counter.
      return {
        ok: (b) => b.includes('"code":"INVALID_CREDENTIALS"'),
        options: { requests: [request], amount: spec.amount },
      };
    }
  }
}

async function fire(spec: LoadSpec, seconds: number, warmup: boolean): Promise<LoadResult> {
  const shape = shapeOf(spec, warmup);
  let sampleError: string | undefined;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: seconds, // ignored by autocannon when the shape sets an `amount`
    timeout: spec.timeoutSeconds,
    headers: JSON_HEADERS,
    ...shape.options,
    verifyBody: (b) => {
      const text = String(b);
      if (shape.ok(text)) return true;
      sampleError ??= text.slice(0, 300);
      return false;
    },
  });
  const connection = result.errors - result.timeouts;
  const wrong = shape.wrong?.() ?? 0;
  if (wrong > 0) sampleError ??= `${wrong} refresh answers repeated a token already received`;
  return {
    requests: result.requests.total,
    seconds: result.duration,
    requestsPerSecond: result.requests.total / result.duration,
    latency: {
      mean: result.latency.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    // Every non-2xx answer also fails `ok` (its body is an error), so mismatches already hold them.
    errors: result.errors + result.mismatches + wrong,
    errorDetail: { connection, timeouts: result.timeouts, non2xx: result.non2xx, badBody: result.mismatches + wrong },
    ...(sampleError === undefined ? {} : { sampleError }),
  };
}

function promValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} is not in GET /metrics`);
  return Number(m[1]) * 1000;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Event-loop delay while `spec` keeps its logins in flight. prom-client resets its event-loop histogram on
 * every scrape of GET /metrics, so a scrape once the logins are queued opens the window and one before the
 * load stops closes it; meanwhile GET /healthz is timed from here as an outside view of the same thing.
 */
async function probe(spec: LoginLoad, running: Promise<unknown>): Promise<EventLoopProbe> {
  const metricsUrl = new URL('/metrics', spec.url).href;
  const healthzUrl = new URL('/healthz', spec.url).href;
  const openAt = Math.min(2, spec.seconds / 4);
  const closeAt = spec.seconds - 1;
  await sleep(openAt * 1000);
  await (await fetch(metricsUrl)).text();
  const opened = performance.now();
  const pings: number[] = [];
  while (performance.now() - opened < (closeAt - openAt) * 1000) {
    const t = performance.now();
    const res = await fetch(healthzUrl);
    await res.arrayBuffer();
    if (res.ok) pings.push(performance.now() - t);
    await sleep(25);
  }
  const text = await (await fetch(metricsUrl)).text();
  const windowSeconds = (performance.now() - opened) / 1000;
  await running;
  pings.sort((a, b) => a - b);
  return {
    serverP99Ms: promValue(text, 'nodejs_eventloop_lag_p99_seconds'),
    serverP50Ms: promValue(text, 'nodejs_eventloop_lag_p50_seconds'),
    serverMaxMs: promValue(text, 'nodejs_eventloop_lag_max_seconds'),
    healthz: {
      count: pings.length,
      mean: pings.reduce((a, b) => a + b, 0) / pings.length,
      p50: percentile(pings, 50),
      p99: percentile(pings, 99),
      max: pings.at(-1) ?? NaN,
    },
    windowSeconds,
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
  const warm = spec.warmupSeconds > 0 ? await fire(spec, spec.warmupSeconds, true) : undefined;
  const measured = fire(spec, spec.seconds, false);
  const probed = spec.kind === 'login' && spec.probe ? await probe(spec, measured) : undefined;
  let result: LoadResult = await measured;
  if (warm && warm.errors > 0) {
    result = {
      ...result,
      warmupErrors: warm.errors,
      sampleError: result.sampleError ?? warm.sampleError ?? 'connection errors in the warm-up',
    };
  }
  process.stdout.write(`${JSON.stringify(probed ? { ...result, probe: probed } : result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
