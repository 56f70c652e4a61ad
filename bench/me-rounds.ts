// Issue 13's comparison: the baselines and Portcullis's `me` scenarios run interleaved, round after round
// (baseline, Portcullis, baseline, Portcullis…), so that a drift of the shared machine falls on both sides alike;
// each row is the median over the rounds and each ratio is taken between medians.
import type { Check, Row } from './report';
import type { LoadResult, LoadSpec } from './scenarios';
import type { Target } from './targets';

export interface Contender {
  readonly name: string;
  /** The server for this round (1-based): a fresh process every time. */
  readonly start: (round: number) => () => Promise<Target>;
  readonly spec: (url: string) => LoadSpec;
}

export type Measure = (name: string, start: () => Promise<Target>, spec: (url: string) => LoadSpec) => Promise<Row>;

/** Every contender once per round, in the given order; the rows by contender, in round order. */
export async function interleave(contenders: readonly Contender[], rounds: number, measure: Measure): Promise<Row[][]> {
  const out = contenders.map((): Row[] => []);
  for (let round = 1; round <= rounds; round++)
    for (const [i, c] of contenders.entries())
      out[i]!.push(await measure(`${c.name} (round ${round}/${rounds})`, c.start(round), c.spec));
  return out;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const highest = (xs: readonly (number | null)[]): number | null => {
  const known = xs.filter((x): x is number => x !== null);
  return known.length > 0 ? Math.max(...known) : null;
};

/** The rounds as one result: medians of the figures, every error of every round, the busiest generator. */
export function medianResult(results: readonly LoadResult[]): LoadResult {
  if (results.length === 1) return results[0]!;
  const of = (pick: (r: LoadResult) => number): number => median(results.map(pick));
  const errors = (pick: (r: LoadResult) => number): number => sum(results.map(pick));
  const gens = results.flatMap((r) => (r.generator ? [r.generator] : []));
  const warmupErrors = errors((r) => r.warmupErrors ?? 0);
  const sampleError = results.find((r) => r.sampleError !== undefined)?.sampleError;
  return {
    requests: of((r) => r.requests),
    seconds: of((r) => r.seconds),
    requestsPerSecond: of((r) => r.requestsPerSecond),
    latency: {
      mean: of((r) => r.latency.mean),
      p50: of((r) => r.latency.p50),
      p90: of((r) => r.latency.p90),
      p99: of((r) => r.latency.p99),
      max: of((r) => r.latency.max),
    },
    errors: errors((r) => r.errors),
    errorDetail: {
      connection: errors((r) => r.errorDetail.connection),
      timeouts: errors((r) => r.errorDetail.timeouts),
      non2xx: errors((r) => r.errorDetail.non2xx),
      badBody: errors((r) => r.errorDetail.badBody),
    },
    ...(warmupErrors > 0 ? { warmupErrors } : {}),
    ...(sampleError === undefined ? {} : { sampleError }),
    ...(gens.length > 0
      ? {
          generator: {
            tool: gens[0]!.tool,
            busyPercent: Math.max(...gens.map((g) => g.busyPercent)),
            coreBusyPercent: highest(gens.map((g) => g.coreBusyPercent)),
          },
        }
      : {}),
    ...(results.some((r) => r.sent !== undefined) ? { sent: Math.max(...results.map((r) => r.sent ?? 0)) } : {}),
  };
}

/** The rounds of one contender as one row. */
export function medianRow(name: string, rounds: readonly Row[]): Row {
  return { name, connections: rounds[0]!.connections, result: medianResult(rounds.map((r) => r.result)) };
}

export interface MeComparison {
  /** Bare startStandaloneServer Apollo, constant `me` (it verifies HS256: bare-jwt.ts). */
  readonly standalone: LoadResult;
  /** The same plus one pg lookup per request, driven with the sessions-not-seen-before (as HS256 tokens). */
  readonly apolloPg: LoadResult;
  /** The same peer verifying the ES256 tokens Portcullis gets (its public key): the same JWT verification. */
  readonly apolloPgEs256: LoadResult;
  /** Portcullis signing and verifying ES256 (JWT_ALGORITHM=ES256, a new install's default). */
  readonly oneToken: LoadResult;
  readonly manyUsers: LoadResult;
  readonly newSession: LoadResult;
  /** The same `me` runs with JWT_ALGORITHM=HS256 (JWT_SECRET), tokens from that server's `login`. */
  readonly oneTokenHs256: LoadResult;
  readonly manyUsersHs256: LoadResult;
}

const f = (n: number): string => n.toFixed(0);

/**
 * Issue 13's targets, with issue 16's ES256 (ratios between the medians; a missed target is reported, not an error),
 * and ES256 ÷ HS256, reported without a target.
 */
export function meChecks(c: MeComparison, manyLabel: string): Check[] {
  const against = (label: string, r: LoadResult): Check[] => {
    const rps = r.requestsPerSecond / c.standalone.requestsPerSecond;
    const p99 = r.latency.p99 / c.standalone.latency.p99;
    return [
      {
        what: `\`me\` (ES256, ${label}) req/s ÷ bare standalone Apollo req/s`,
        value: `${rps.toFixed(2)} (${f(r.requestsPerSecond)} ÷ ${f(c.standalone.requestsPerSecond)})`,
        target: '≥ 0.80',
        ok: rps >= 0.8,
      },
      {
        what: `\`me\` (ES256, ${label}) p99 ÷ bare standalone Apollo p99`,
        value: `${p99.toFixed(2)} (${f(r.latency.p99)} ÷ ${f(c.standalone.latency.p99)} ms)`,
        target: '≤ 1.50',
        ok: p99 <= 1.5,
      },
    ];
  };
  const algorithms = (label: string, es: LoadResult, hs: LoadResult): Check => {
    const rps = es.requestsPerSecond / hs.requestsPerSecond;
    return {
      what: `\`me\` (${label}) req/s, ES256 ÷ HS256`,
      value:
        `${rps.toFixed(2)} (${f(es.requestsPerSecond)} ÷ ${f(hs.requestsPerSecond)}; ` +
        `p99 ${f(es.latency.p99)} vs ${f(hs.latency.p99)} ms)`,
      target: '–',
      ok: null,
    };
  };
  const peer = c.newSession.requestsPerSecond / c.apolloPgEs256.requestsPerSecond;
  const hsPeer = c.newSession.requestsPerSecond / c.apolloPg.requestsPerSecond;
  return [
    ...against('1 token', c.oneToken),
    ...against(manyLabel, c.manyUsers),
    algorithms('1 token', c.oneToken, c.oneTokenHs256),
    algorithms(manyLabel, c.manyUsers, c.manyUsersHs256),
    {
      what: '`me` (ES256, a session not in the cache) req/s ÷ Apollo + one pg lookup (the same ES256 check) req/s',
      value: `${peer.toFixed(2)} (${f(c.newSession.requestsPerSecond)} ÷ ${f(c.apolloPgEs256.requestsPerSecond)})`,
      target: '≥ 1.00',
      ok: peer >= 1,
    },
    {
      what: '`me` (ES256, a session not in the cache) req/s ÷ Apollo + one pg lookup checking HS256 (a cheaper check) req/s',
      value: `${hsPeer.toFixed(2)} (${f(c.newSession.requestsPerSecond)} ÷ ${f(c.apolloPg.requestsPerSecond)})`,
      target: '–',
      ok: null,
    },
  ];
}

/**
 * Reported without a target: `row` ÷ `peer` round by round and their median. In each round the peer runs right
 * before the row, so a machine that slows down or speeds up between rounds moves both; the target above is the
 * ratio of the two medians, which such a drift can move.
 */
export function pairedCheck(what: string, row: readonly LoadResult[], peer: readonly LoadResult[]): Check {
  const ratios = row.map((r, i) => r.requestsPerSecond / peer[i]!.requestsPerSecond);
  return {
    what: `${what}, round by round (median of the per-round ratios)`,
    value: `${median(ratios).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')})`,
    target: '–',
    ok: null,
  };
}
