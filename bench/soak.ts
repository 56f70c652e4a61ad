// The soak (issue 11): one fresh server with the limits as shipped takes `soakAttempts` logins for distinct random
// emails; real logins and real requestOtp calls are timed on it before and after, and its RSS read from /proc.
// Done when the medians after stay within 10% of before and RSS growth stays bounded (the limit counters are an
// LRU of at most 100,000). bcrypt cost 4 on this server (so NODE_ENV=development: production refuses a cost
// under 10), so that 100,000 attempts take minutes, not hours, and a store that slows every request down (as
// graphql-rate-limit's InMemoryStore did) is not hidden behind hashing.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BENCH_PASSWORD, benchEmail } from './seed-users';
import { LOGIN_MUTATION, type LoadResult } from './scenarios';
import { BENCH_METRICS_TOKEN, defaultLimitsEnv, type Settings } from './settings';
import { load, startPortcullis, withTarget } from './targets';

const REQUEST_OTP = 'mutation($e: String!) { requestOtp(email: $e, purpose: LOGIN) { expiresIn } }';
const SOAK_DOMAIN = 'soak.portcullis.invalid';
/** Users timed to warm the server up (JIT, pools) before the "fresh" figures. */
const WARMUP_USERS = 50;
export const SOAK_NODE_OPTIONS = '--max-old-space-size=256';

export interface ProbeFigures {
  /** Median and mean of `soakProbes` sequential calls, ms. */
  readonly loginP50: number;
  readonly loginMean: number;
  readonly requestOtpP50: number;
  readonly requestOtpMean: number;
  /** The server's resident set size after the probes, MB. */
  readonly rssMb: number;
  /** Of which the JavaScript heap in use, and memory outside it (Buffers, native objects), MB (from /metrics). */
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
}

export interface SoakResult {
  readonly attempts: number;
  readonly probes: number;
  readonly fresh: ProbeFigures;
  /** RSS after the first tenth of the attempts, MB. */
  readonly warmRssMb: number;
  readonly soaked: ProbeFigures;
  /** The last nine tenths of the attempts. */
  readonly load: LoadResult;
}

/** A gauge of the server's /metrics (prom-client's process metrics), MB. */
async function gaugeMb(graphqlUrl: string, name: string): Promise<number> {
  const text = await (
    await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'), {
      headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` },
    })
  ).text();
  const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  if (value === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(value) / 1024 / 1024;
}

function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One POST at a time; each answer must be `expect`ed (data, no errors). Returns the round trips in ms. */
async function timed(url: string, bodies: readonly object[], expect: string): Promise<number[]> {
  const out: number[] = [];
  for (const b of bodies) {
    const t = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(b),
    });
    const text = await res.text();
    out.push(performance.now() - t);
    if (!res.ok || !text.includes(expect) || text.includes('"errors"'))
      throw new Error(`soak probe failed (HTTP ${res.status}): ${text.slice(0, 300)}`);
  }
  return out;
}

/** Times a real login and a real requestOtp for each of `users` (each user once: no limit is near). */
async function probe(url: string, users: readonly number[], pid: number): Promise<ProbeFigures> {
  const logins = await timed(
    url,
    users.map((n) => ({ query: LOGIN_MUTATION, variables: { e: benchEmail(n), p: BENCH_PASSWORD } })),
    '"accessToken":"',
  );
  const otps = await timed(
    url,
    users.map((n) => ({ query: REQUEST_OTP, variables: { e: benchEmail(n) } })),
    '"expiresIn":',
  );
  return {
    loginP50: median(logins),
    loginMean: mean(logins),
    requestOtpP50: median(otps),
    requestOtpMean: mean(otps),
    rssMb: rssMb(pid),
    heapUsedMb: await gaugeMb(url, 'nodejs_heap_size_used_bytes'),
    heapTotalMb: await gaugeMb(url, 'nodejs_heap_size_total_bytes'),
    externalMb: await gaugeMb(url, 'nodejs_external_memory_bytes'),
  };
}

/** Runs the soak on a fresh server; `users` bench users (cost-4 hashes) must exist, at least 50 + 2 × probes. */
export async function runSoak(
  s: Settings,
  smtpPort: number,
  users: number,
  log: (m: string) => void,
): Promise<SoakResult> {
  const probes = Math.min(s.soakProbes, Math.floor((users - WARMUP_USERS) / 2));
  if (probes < 10) throw new Error(`the soak needs at least ${WARMUP_USERS + 20} bench users, has ${users}`);
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const env = {
    ...defaultLimitsEnv(),
    NODE_ENV: 'development',
    PLAYGROUND: 'false',
    BCRYPT_COST: '4',
    // The heap limit docs/operations.md recommends: without one, V8 grows its heap toward its own default limit
    // (gigabytes here) before collecting old garbage, and RSS follows. SOAK_NODE_OPTIONS= (empty) runs without.
    NODE_OPTIONS: process.env.SOAK_NODE_OPTIONS ?? SOAK_NODE_OPTIONS,
    ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
  };
  return withTarget(
    () => startPortcullis(s, smtpPort, { env }),
    async (t) => {
      const pid = t.proc.child.pid!;
      await probe(t.url, range(1, WARMUP_USERS), pid);
      const fresh = await probe(t.url, range(WARMUP_USERS + 1, probes), pid);
      log(`soak: ${s.soakAttempts.toLocaleString('en')} logins with random emails…`);
      const attack = (amount: number) =>
        load(s, {
          kind: 'soak',
          url: t.url,
          connections: s.connections,
          warmupSeconds: 0,
          seconds: 0,
          timeoutSeconds: 30,
          amount,
          domain: SOAK_DOMAIN,
          password: 'Not-The-Password-1',
        });
      // The first tenth lets the heap grow to what 50 connections need; growth after it is what the attempts keep.
      const first = Math.ceil(s.soakAttempts / 10);
      await attack(first);
      const warmRssMb = rssMb(pid);
      const result = await attack(s.soakAttempts - first);
      const soaked = await probe(t.url, range(WARMUP_USERS + probes + 1, probes), pid);
      return { attempts: s.soakAttempts, probes, fresh, warmRssMb, soaked, load: result };
    },
  );
}
