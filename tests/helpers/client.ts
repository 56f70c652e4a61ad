// The one HTTP client of the tests: GraphQL requests and plain ones, to an in-process server (TestApp) or a child
// process (MainProcess) alike, answering with the status, the headers and the parsed body.
import { Agent, request } from 'node:http';

export interface GraphQLErrorBody {
  message: string;
  path?: Array<string | number>;
  extensions?: Record<string, any>;
}

/** A GraphQL answer's JSON, as the server sent it. */
export interface GraphQLBody<T = Record<string, any>> {
  data?: T | null;
  errors?: GraphQLErrorBody[];
}

export interface GraphQLResponse<T = Record<string, any>> extends GraphQLBody<T> {
  status: number;
  headers: Headers;
  body: GraphQLBody<T>;
}

export interface RequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Any answer: status, headers, the text and, when the text is JSON, its value. */
export interface HttpAnswer<B = any> {
  status: number;
  headers: Headers;
  text: string;
  body: B | undefined;
}

/**
 * A request as `fetch` takes it, for what a GraphQL call cannot express (methods, paths, raw bodies, sizes). A POST of a
 * text body to an http: URL, as every GraphQL call is, goes through node:http instead, with fetch's default `accept`
 * and `user-agent` and without following a redirect (no such POST here is answered with one unless it asks for
 * `redirect: 'manual'`): on Node 20 fetch spends 3-5 times the CPU of http.request on a small request (about 450 µs
 * against 80-240 µs on a 2-core VM), and most of the suite's requests are such POSTs.
 */
export async function httpRequest<B = any>(url: string | URL, init: RequestInit = {}): Promise<HttpAnswer<B>> {
  const { status, headers, text } = isPlainPost(url, init) ? await nodePost(url, init) : await viaFetch(url, init);
  let body: B | undefined;
  try {
    body = JSON.parse(text) as B;
  } catch {
    body = undefined;
  }
  return Object.defineProperties({ status, text, body } as HttpAnswer<B>, {
    headers: { get: headers, enumerable: true },
  });
}

interface RawAnswer {
  status: number;
  /** The answer's headers, built on first use (a `Headers` costs more than most requests read). */
  headers: () => Headers;
  text: string;
}

async function viaFetch(url: string | URL, init: RequestInit): Promise<RawAnswer> {
  const res = await fetch(url, init);
  return { status: res.status, headers: () => res.headers, text: await res.text() };
}

function isPlainPost(url: string | URL, init: RequestInit): init is RequestInit & { body: string } {
  const headers = init.headers;
  return (
    init.method === 'POST' &&
    typeof init.body === 'string' &&
    (init.redirect === undefined || init.redirect === 'manual') &&
    (headers === undefined || (!Array.isArray(headers) && !(headers instanceof Headers))) &&
    new URL(url).protocol === 'http:'
  );
}

// Idle connections close after 4 s, before a server's own 5 s keep-alive timeout, as fetch's do (nodejs/undici#3141).
const agent = new Agent({ keepAlive: true, timeout: 4000 });

function nodePost(url: string | URL, init: RequestInit & { body: string }): Promise<RawAnswer> {
  const headers = { ...(init.headers as Record<string, string> | undefined) };
  const named = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  if (!named.has('accept')) headers.accept = '*/*';
  if (!named.has('user-agent')) headers['user-agent'] = 'node';
  const signal = init.signal ?? undefined;
  return new Promise((resolve, reject) => {
    // Aborted, it fails with the signal's reason (a TimeoutError for AbortSignal.timeout), as fetch does.
    const fail = (err: Error) => reject(signal?.aborted ? (signal.reason as Error) : err);
    const req = request(url, { method: 'POST', agent, headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        const raw = res.rawHeaders;
        let built: Headers | undefined;
        const headersOf = () => {
          if (built) return built;
          built = new Headers();
          for (let i = 0; i < raw.length; i += 2) built.append(raw[i]!, raw[i + 1]!);
          return built;
        };
        resolve({ status: res.statusCode!, headers: headersOf, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', fail);
    req.end(init.body);
  });
}

/** The fetch options of a GraphQL POST of `payload` (a JSON content type, the token, any other headers). */
export function graphqlInit(payload: unknown, { token, headers, signal }: RequestOptions = {}): RequestInit {
  const all: Record<string, string> = { 'content-type': 'application/json', ...headers };
  if (token !== undefined) all.authorization = `Bearer ${token}`;
  return { method: 'POST', headers: all, body: JSON.stringify(payload), signal };
}

/** POSTs a whole GraphQL request (`query`, `variables`, `extensions`…); fails when the answer is not a JSON object. */
export async function postGraphQL<T = Record<string, any>>(
  url: string,
  payload: unknown,
  options: RequestOptions = {},
): Promise<GraphQLResponse<T>> {
  const answer = await httpRequest<GraphQLBody<T>>(url, graphqlInit(payload, options));
  const { status, text, body } = answer;
  if (body === null || typeof body !== 'object')
    throw new Error(`HTTP ${status}, not a JSON object: ${text.slice(0, 300)}`);
  const response = { status, body, data: body.data, errors: body.errors } as GraphQLResponse<T>;
  // Not enumerable: two answers are equal (toEqual) when the server said the same, whatever their date or request id.
  return Object.defineProperty(response, 'headers', { get: () => answer.headers, enumerable: false });
}

export interface GraphQLClient {
  /** http://127.0.0.1:PORT/graphql */
  readonly url: string;
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<GraphQLResponse<T>>;
}

export function graphqlClient(url: string): GraphQLClient {
  return { url, gql: (query, variables, options) => postGraphQL(url, { query, variables }, options) };
}

/** The data of an answer that must have no errors (the test fails, showing them, otherwise). */
export function ok<T>(res: GraphQLResponse<T>): T {
  expect(res.errors).toBeUndefined();
  return res.data!;
}

/** A JWT's claims, read without checking its signature: the tests' look at what the server signed. */
export function claimsOf<T = Record<string, any>>(jwt: string): T {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as T;
}

/** The session (`sid`) an access token belongs to. */
export const sessionIdOf = (accessToken: string): string => claimsOf<{ sid: string }>(accessToken).sid;

/** The `extensions.code` of the first error, or undefined. */
export function errorCode(res: GraphQLBody<unknown>): string | undefined {
  return res.errors?.[0]?.extensions?.code as string | undefined;
}

/** GET /readyz on the origin of `graphqlUrl`. */
export async function readyz(
  graphqlUrl: string,
  init: RequestInit = {},
): Promise<{ status: number; checks: Record<string, string> }> {
  const { status, body } = await httpRequest<{ checks: Record<string, string> }>(new URL('/readyz', graphqlUrl), init);
  return { status, checks: body!.checks };
}

/** GET /metrics on the origin of `graphqlUrl`, with `token` as a bearer token if given. */
export async function scrapeMetrics(graphqlUrl: string, token?: string): Promise<{ status: number; text: string }> {
  const { status, text } = await httpRequest(
    new URL('/metrics', graphqlUrl),
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  return { status, text };
}
