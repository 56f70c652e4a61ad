// What the orchestrator (run.ts) asks the load generator (load.ts) to do, and what it answers: plain JSON,
// since the two run in separate processes pinned to separate cores.

export const ME_QUERY = '{ me { id email } }';
export const REFRESH_MUTATION = 'mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken } }';
export const LOGIN_MUTATION = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }';

interface LoadBase {
  /** http://127.0.0.1:PORT/graphql (introspection: http://127.0.0.1:PORT/oauth/introspect) */
  readonly url: string;
  readonly connections: number;
  /** Seconds of load whose numbers are thrown away (JIT, pools, caches) before the measured run. */
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Seconds wrk waits for one answer before counting a timeout (at most the run's length: wrk sizes a histogram by it). */
  readonly timeoutSeconds: number;
}

/** `me`: connection i sends tokens[i % n], or, with `rotate`, each request takes the next token. */
export interface MeLoad extends LoadBase {
  readonly kind: 'me';
  readonly tokens: readonly string[];
  readonly rotate: boolean;
}

/** `refresh`: each connection owns one session and chains the token each answer returns. */
export interface RefreshLoad extends LoadBase {
  readonly kind: 'refresh';
  /** One refresh token per connection for the warm-up, then fresh ones for the measured run. */
  readonly warmupTokens: readonly string[];
  readonly tokens: readonly string[];
}

/** `login` with the right password; with `probe`, also measures event-loop delay while it runs. */
export interface LoginLoad extends LoadBase {
  readonly kind: 'login';
  readonly email: string;
  readonly password: string;
  readonly probe: boolean;
}

/**
 * The soak: `amount` logins with a wrong password, each for an email never sent before
 * (`soak-<n>-<random>@<domain>`), as an attacker filling the limit counters would.
 */
export interface SoakLoad extends LoadBase {
  readonly kind: 'soak';
  readonly amount: number;
  readonly domain: string;
  readonly password: string;
}

/**
 * POST /oauth/introspect: every request authenticates with the same API key (Bearer) and asks about the next access
 * token of `tokens` (form field `token`), in turn; a right answer says `"active":true`.
 */
export interface IntrospectLoad extends LoadBase {
  readonly kind: 'introspect';
  /** The caller's API key, with tokens:introspect. */
  readonly apiKey: string;
  readonly tokens: readonly string[];
}

export type LoadSpec = MeLoad | RefreshLoad | LoginLoad | SoakLoad | IntrospectLoad;

export interface Latency {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The load generator's own cost: whether a figure measures the server or the generator. */
export interface GeneratorLoad {
  readonly tool: 'wrk';
  /** wrk's CPU time (user + system, all its threads) over the run's wall time, % of one core. */
  readonly busyPercent: number;
  /** The whole load core's busy time over the same span (wrk, the probe, and anything else on it), or null. */
  readonly coreBusyPercent: number | null;
}

export interface EventLoopProbe {
  /** prom-client's `nodejs_eventloop_lag_p99_seconds` over the window, in ms (see load.ts for the window). */
  readonly serverP99Ms: number;
  /** The same histogram's p50: its 10 ms sampling interval is included in every sample. */
  readonly serverP50Ms: number;
  readonly serverMaxMs: number;
  /** Round trips of GET /healthz sent every 25 ms from the load generator during the window, in ms. */
  readonly healthz: Latency & { readonly count: number };
  readonly windowSeconds: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** Milliseconds, over every answer of the measured run. */
  readonly latency: Latency;
  /** Connection errors + timeouts + non-2xx answers + 2xx answers that are not the expected data. */
  readonly errors: number;
  readonly errorDetail: {
    readonly connection: number;
    readonly timeouts: number;
    readonly non2xx: number;
    readonly badBody: number;
  };
  /** Errors during the warm-up (counted as failures too, but not in `errors`). */
  readonly warmupErrors?: number;
  /** The first wrong answer seen, to make a failure explainable. */
  readonly sampleError?: string;
  readonly probe?: EventLoopProbe;
  /** The busiest of the warm-up and the measured run. */
  readonly generator?: GeneratorLoad;
  /** Requests sent, warm-up included: with a new token per request, more than there are tokens means some repeated. */
  readonly sent?: number;
}
