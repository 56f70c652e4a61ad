// The load generator: `node dist/bench/load.js spec.json`, run by run.ts pinned to its own core. Runs wrk (a
// warm-up, then the measured run) as the spec says and prints one JSON LoadResult on stdout; wrk inherits the pin.
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
import { BENCH_METRICS_TOKEN } from './settings';
import { runWrk, type WrkRun } from './wrk';
import { PLACEHOLDER } from './wrk-script';

const NO_ERRORS = '"errors"';

function body(query: string, variables?: Record<string, string>): string {
  return JSON.stringify(variables ? { query, variables } : { query });
}

/** What wrk sends and expects for this scenario. */
function wrkRun(spec: LoadSpec, seconds: number, warmup: boolean, offset: number): WrkRun {
  // wrk sizes a latency histogram by its timeout; an answer after the run ends is not counted anyway.
  const common = { url: spec.url, connections: spec.connections, seconds, timeoutSeconds: spec.timeoutSeconds };
  const bounded = { ...common, timeoutSeconds: Math.min(spec.timeoutSeconds, seconds + 5) };
  switch (spec.kind) {
    case 'me': {
      const me = { body: body(ME_QUERY), expect: '"me":{"id":"', forbid: NO_ERRORS };
      if (spec.rotate) return { ...bounded, ...me, mode: 'rotate', tokens: spec.tokens, offset };
      // wrk's static request is the same on every connection.
      if (spec.tokens.length !== 1) throw new Error('`me` without rotate takes exactly one token');
      return { ...bounded, ...me, mode: 'static', tokens: spec.tokens };
    }
    case 'refresh':
      // Each request takes a token from the pool and each answer puts its successor back: every session is a chain.
      return {
        ...bounded,
        mode: 'chain',
        body: body(REFRESH_MUTATION, { t: PLACEHOLDER }),
        tokens: warmup ? spec.warmupTokens : spec.tokens,
        expect: '"refreshToken":"',
        forbid: NO_ERRORS,
      };
    case 'login':
      return {
        ...bounded,
        mode: 'static',
        body: body(LOGIN_MUTATION, { e: spec.email, p: spec.password }),
        expect: '"accessToken":"',
        forbid: NO_ERRORS,
      };
    case 'introspect':
      // A fixed caller and a form body with the next token in it: each request asks about another session.
      return {
        ...bounded,
        mode: 'cycle',
        body: `token=${PLACEHOLDER}`,
        contentType: 'application/x-www-form-urlencoded',
        authorization: `Bearer ${spec.apiKey}`,
        tokens: spec.tokens,
        offset,
        expect: '"active":true',
      };
    case 'soak': {
      // A new email on every request; a random part so that no two runs (or instances) share one. Every
      // attempt must reach the password check: a RATE_LIMITED here would mean distinct emails share a counter.
      const run = randomBytes(3).toString('hex');
      return {
        ...common,
        seconds: Math.ceil(spec.amount / 20) + 60, // a bound: wrk stops after `amount` answers
        mode: 'count',
        body: body(LOGIN_MUTATION, { e: `soak-${run}-${PLACEHOLDER}@${spec.domain}`, p: spec.password }),
        expect: '"code":"INVALID_CREDENTIALS"',
        amount: spec.amount,
      };
    }
  }
}

async function fire(spec: LoadSpec, seconds: number, warmup: boolean, offset = 0): Promise<LoadResult> {
  const r = await runWrk(wrkRun(spec, seconds, warmup, offset));
  const connection = r.socket.connect + r.socket.read + r.socket.write;
  const badBody = r.bad + r.repeated;
  return {
    requests: r.requests,
    seconds: r.seconds,
    requestsPerSecond: r.requests / r.seconds,
    latency: r.latency,
    errors: connection + r.socket.timeout + r.non2xx + badBody,
    errorDetail: { connection, timeouts: r.socket.timeout, non2xx: r.non2xx, badBody },
    ...(r.sample === '' ? {} : { sampleError: r.sample }),
    generator: { tool: 'wrk', busyPercent: r.busyPercent, coreBusyPercent: r.coreBusyPercent },
    sent: r.sent,
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
  const scrape = async (): Promise<string> => {
    const res = await fetch(metricsUrl, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET /metrics answered ${res.status}: ${text.slice(0, 200)}`);
    return text;
  };
  const healthzUrl = new URL('/healthz', spec.url).href;
  const openAt = Math.min(2, spec.seconds / 4);
  const closeAt = spec.seconds - 1;
  await sleep(openAt * 1000);
  await scrape();
  const opened = performance.now();
  const pings: number[] = [];
  while (performance.now() - opened < (closeAt - openAt) * 1000) {
    const t = performance.now();
    const res = await fetch(healthzUrl);
    await res.arrayBuffer();
    if (res.ok) pings.push(performance.now() - t);
    await sleep(25);
  }
  const text = await scrape();
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
      p90: percentile(pings, 90),
      p99: percentile(pings, 99),
      max: pings.at(-1) ?? NaN,
    },
    windowSeconds,
  };
}

/** The busier of two generator figures: the claim is about the worst moment. */
function busier(a: LoadResult['generator'], b: LoadResult['generator']): LoadResult['generator'] {
  if (!a || !b) return a ?? b;
  return {
    tool: a.tool,
    busyPercent: Math.max(a.busyPercent, b.busyPercent),
    coreBusyPercent:
      a.coreBusyPercent === null || b.coreBusyPercent === null
        ? (a.coreBusyPercent ?? b.coreBusyPercent)
        : Math.max(a.coreBusyPercent, b.coreBusyPercent),
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
  const warm = spec.warmupSeconds > 0 ? await fire(spec, spec.warmupSeconds, true) : undefined;
  // A rotating (or cycling) run goes on with the tokens after the warm-up's: a "session not seen before" stays unseen.
  const measured = fire(spec, spec.seconds, false, warm?.sent ?? 0);
  const probed = spec.kind === 'login' && spec.probe ? await probe(spec, measured) : undefined;
  let result: LoadResult = await measured;
  if (warm) {
    result = {
      ...result,
      generator: busier(result.generator, warm.generator),
      sent: (result.sent ?? 0) + (warm.sent ?? 0),
    };
  }
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
