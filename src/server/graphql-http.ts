// POST /graphql on Node's own request and response: the request every other request depends on skips Express.
// The same work as the Express chain it replaces, each step a plain function: helmet's headers (computed once),
// CORS, the per-IP limit, a JSON body of at most 100 kB, a request id, then Apollo's executeHTTPGraphQLRequest.
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import type { MikroORM } from '@mikro-orm/postgresql';
import cors from 'cors';
import helmet from 'helmet';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config/config';
import { canonicalIp, networkKey } from '../common/ip';
import { errorFields, type Logger } from '../common/logger';
import type { GraphQLContext } from '../common/request-context';
import type { Authenticator } from '../modules/sessions/authenticator';
import { ipLimitedAnswer } from '../rate-limit/ip-limit';
import type { LimitStore } from '../rate-limit/store';
import { RequestContext } from './context';
import { corsOptions } from './cors';
import type { Metrics } from './metrics';
import type { SocialSignInService } from '../modules/identities/social-sign-in.service';
import { refreshCookie } from './refresh-cookie';

export const BODY_LIMIT_BYTES = 100 * 1024;

/** What both HTTP handlers (this one and http-app.ts's Express) are built from. */
export interface GraphQLHttpParts {
  readonly config: Config;
  readonly apollo: ApolloServer<GraphQLContext>;
  readonly orm: MikroORM;
  readonly authenticator: Authenticator;
  readonly limitStore: LimitStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The provider callback's flow (http-app.ts); POST /graphql does not use it. */
  readonly social: SocialSignInService;
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** helmet's options for every response of this server (http-app.ts uses them too). */
export function helmetOptions(config: Config): Parameters<typeof helmet>[0] {
  // helmet's default CSP everywhere; the playground page sets a stricter one of its own.
  return { crossOriginEmbedderPolicy: false, strictTransportSecurity: config.isProduction };
}

/** The headers helmet sets, computed once (they do not depend on the request), as a flat [name, value, …] list. */
function helmetHeaders(config: Config): string[] {
  const headers: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string) => headers.push(name, String(value)),
    removeHeader: () => {},
  };
  helmet(helmetOptions(config))({} as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  return headers;
}

/** Express's `trust proxy` setting as proxy-addr's trust function (as Express compiles it). */
function trustFunction(setting: Config['trustProxy']): (addr: string, i: number) => boolean {
  if (typeof setting === 'number') return (_addr, i) => i < setting;
  if (setting === false) return () => false;
  return proxyaddr.compile(setting.split(',').map((s) => s.trim()));
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The body of an HTTP-level error (before GraphQL): 413 for a large body, another 4xx BAD_REQUEST, else 500. */
export function httpErrorBody(status: number): unknown {
  const message =
    status === 413 ? 'Request body is larger than 100 kB' : status === 500 ? 'Internal server error' : 'Bad request';
  return { errors: [{ message, extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' } }] };
}

/** A JSON answer of this handler's own (errors before Apollo), with `headers` ([name, value, …]). */
function sendJson(res: ServerResponse, status: number, body: unknown, headers: readonly string[]): void {
  const text = JSON.stringify(body);
  const list = [...headers, 'Content-Type', 'application/json; charset=utf-8'];
  list.push('Content-Length', String(Buffer.byteLength(text)));
  res.writeHead(status, list);
  res.end(text);
}

/** The body as text, at most BODY_LIMIT_BYTES (HttpError 413); events, not an async iterator: cheaper per request. */
function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
      else {
        req.off('data', onData);
        req.resume(); // drained, unread
        reject(new HttpError(413, 'request entity too large'));
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (size <= BODY_LIMIT_BYTES)
        resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.once('error', reject);
  });
}

/** The JSON body (undefined for another content type, as express.json leaves it); HttpError 413/415/400. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) {
    req.resume(); // drained, unread
    return undefined;
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') throw new HttpError(415, `unsupported content encoding "${encoding}"`);
  const charset = /;\s*charset=([^;\s]+)/i.exec(type)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    throw new HttpError(415, 'unsupported charset');
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > BODY_LIMIT_BYTES) throw new HttpError(413, 'request entity too large');
  const text = await readText(req);
  if (text === '') return {};
  if (!/^[\s]*[{[]/.test(text)) throw new HttpError(400, 'the JSON body must be an object or an array');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

export function graphqlHttpHandler(parts: GraphQLHttpParts): NodeHandler {
  const { config, apollo, limitStore, metrics, logger } = parts;
  const securityHeaders = helmetHeaders(config);
  const trust = trustFunction(config.trustProxy);
  const applyCors = cors(corsOptions(config.corsOrigins));
  const perMinute = config.rateLimitPerMinute;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await new Promise<void>((resolve) => applyCors(req, res, () => resolve()));
    const ip = canonicalIp(proxyaddr(req, trust));
    const { totalHits, resetTime } = await limitStore.ipStore.increment(networkKey(ip));
    if (totalHits > perMinute) {
      metrics.rateLimited.inc({ limit: 'ip-per-minute' });
      req.resume();
      const limited = ipLimitedAnswer(resetTime);
      sendJson(res, 429, limited.body, [...securityHeaders, 'Retry-After', String(limited.retryAfter)]);
      return;
    }
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      sendJson(res, err.status, httpErrorBody(err.status), securityHeaders);
      return;
    }
    const requestId = randomUUID();
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const query = req.url!.indexOf('?');
    const request: HTTPGraphQLRequest = {
      method: 'POST',
      headers,
      search: query < 0 ? '' : req.url!.slice(query),
      body,
    };
    const answer = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: request,
      context: async () => requestContext(parts, req, res, requestId, ip),
    });
    // Every header in one writeHead: the security headers are a ready list, not a setHeader call each.
    const headerList = [...securityHeaders, 'X-Request-Id', requestId];
    for (const [name, value] of answer.headers) headerList.push(name, value);
    if (answer.body.kind === 'complete') {
      headerList.push('Content-Length', String(Buffer.byteLength(answer.body.string)));
      res.writeHead(answer.status ?? 200, headerList);
      res.end(answer.body.string);
      return;
    }
    res.writeHead(answer.status ?? 200, headerList);
    for await (const chunk of answer.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error('unexpected HTTP error', errorFields(err));
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, 500, httpErrorBody(500), securityHeaders);
    });
  };
}

/** The GraphQL context of one request (`ip`: its canonical client address). */
export function requestContext(
  parts: Pick<GraphQLHttpParts, 'config' | 'orm' | 'authenticator'>,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  ip: string | null,
): GraphQLContext {
  const { config } = parts;
  return new RequestContext(
    requestId,
    { ip, userAgent: req.headers['user-agent']?.slice(0, 512) ?? null },
    config.refreshTokenCookie ? refreshCookie(req, res, config.refreshTokenTtl) : null,
    parts.orm,
    parts.authenticator,
    bearerToken(req.headers.authorization),
  );
}

function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : ''; // present but malformed: authentication will fail, not be skipped
}

/** True for the requests this handler answers: POST to /graphql exactly (with or without a query string). */
export function isGraphQLPost(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const path = url.indexOf('?') < 0 ? url : url.slice(0, url.indexOf('?'));
  return path === '/graphql' || path === '/graphql/';
}
