// Prometheus metrics (prom-client) on GET /metrics, one registry per server. Sign-ins, codes and refresh-token
// reuse are counted from the audit events as they are recorded, so the two can never tell different stories.
// Every label value comes from a fixed set: a client's own strings (operation names) never become a series.
import type { ApolloServerPlugin } from '@apollo/server';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { RequestHandler } from 'express';
import {
  Kind,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { safeEqual } from '../common/crypto';
import { AuditEventType, SignInMethod } from '../modules/audit/audit-event-type';
import type { AuditEntry } from '../modules/audit/audit.service';
import type { SessionCache } from '../modules/sessions/session-cache';
import type { OutboxHooks } from '../modules/mail/outbox-sender';
import type { WebhookHooks } from '../modules/webhooks/webhook-sender';
import { CODE_EMAIL_KINDS } from '../modules/mail/templates';

/** The `operation` label of a request that selects several different root fields. */
export const MULTIPLE_FIELDS = 'multiple';
/** The `operation` label of a request with no root field of the schema (unparsable, invalid, introspection only). */
export const OTHER_FIELD = 'other';

const rootFieldsOf = new WeakMap<GraphQLSchema, ReadonlySet<string>>();

function rootFields(schema: GraphQLSchema): ReadonlySet<string> {
  let names = rootFieldsOf.get(schema);
  if (names === undefined) {
    const types = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()];
    names = new Set(types.flatMap((type) => Object.keys(type?.getFields() ?? {})));
    rootFieldsOf.set(schema, names);
  }
  return names;
}

/**
 * A request's `operation` label: its root field (`login`, `me` …) when it selects one (aliases and fragments
 * resolved, `__typename` aside), `multiple` for several, `other` when none is a field of the schema.
 */
export function operationLabel(
  schema: GraphQLSchema,
  document: DocumentNode | undefined,
  operation: OperationDefinitionNode | undefined,
): string {
  if (operation === undefined) return OTHER_FIELD;
  const fragments = new Map(
    (document?.definitions ?? []).flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
    ),
  );
  const fields = new Set<string>();
  const visited = new Set<string>();
  const collect = (set: SelectionSetNode): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') fields.add(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  if (fields.size > 1) return MULTIPLE_FIELDS;
  const [field] = fields;
  return field !== undefined && rootFields(schema).has(field) ? field : OTHER_FIELD;
}

const METHOD_LABELS: Readonly<Record<SignInMethod, string>> = {
  PASSWORD: 'password',
  CODE: 'code',
  PROVIDER: 'provider',
  PASSKEY: 'passkey',
};

export class Metrics {
  readonly registry = new Registry();
  private readonly durations = new Histogram({
    name: 'portcullis_graphql_request_duration_seconds',
    help: 'GraphQL request duration by root field (the schema\'s field names, "multiple" for several, "other" for none)',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  private readonly signIns = new Counter({
    name: 'portcullis_sign_ins_total',
    help: 'Sign-in attempts by method (password, code, provider) and outcome (success, failure)',
    labelNames: ['method', 'outcome'],
    registers: [this.registry],
  });
  private readonly codes = new Counter({
    name: 'portcullis_codes_total',
    help: 'One-time codes by event (sent: delivered to the mail server; accepted; rejected)',
    labelNames: ['event'],
    registers: [this.registry],
  });
  private readonly reuse = new Counter({
    name: 'portcullis_refresh_token_reuse_total',
    help: 'Refresh-token reuse detected (the session was ended)',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'portcullis_rate_limit_hits_total',
    help: 'Requests refused by a request limit, by limit name',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  /** Social sign-ins by configured provider id and outcome (SOCIAL_OUTCOMES in modules/identities). */
  readonly socialSignIns = new Counter({
    name: 'portcullis_social_sign_ins_total',
    help: 'Provider sign-ins and links by provider (configured id) and outcome (success, access_denied, invalid_request, server_error, identity_conflict)',
    labelNames: ['provider', 'outcome'],
    registers: [this.registry],
  });
  readonly mailFailures = new Counter({
    name: 'portcullis_mail_send_failures_total',
    help: 'Failed attempts to hand an email to the SMTP server',
    registers: [this.registry],
  });
  private readonly webhooks = new Counter({
    name: 'portcullis_webhook_deliveries_total',
    help: 'Webhook delivery tries by outcome (delivered: a 2xx answer; failed: anything else; dead: the last try failed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  constructor(orm: MikroORM) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'portcullis_mail_outbox_depth',
      help: 'Emails waiting to be sent',
      registers: [this.registry],
      async collect() {
        const [row] = await orm.em
          .getConnection()
          .execute<{ n: string }[]>(
            'select count(*) as n from mail_outbox where sent_at is null and failed_at is null',
          );
        this.set(Number(row?.n ?? 0));
      },
    });
  }

  /** Session cache figures, read at each scrape. */
  watchSessionCache(cache: SessionCache): void {
    new Gauge({
      name: 'portcullis_session_cache_enabled',
      help: '1 while the session cache is on (the change feed is listening), else 0',
      registers: [this.registry],
      collect() {
        this.set(cache.enabled ? 1 : 0);
      },
    });
    new Gauge({
      name: 'portcullis_session_cache_entries',
      help: 'Sessions held in the session cache',
      registers: [this.registry],
      collect() {
        this.set(cache.size);
      },
    });
    new Counter({
      name: 'portcullis_session_cache_lookups_total',
      help: 'Access-token session checks while the cache is on, by result (hit: no database read)',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, cache.stats.hits);
        this.inc({ result: 'miss' }, cache.stats.misses);
      },
    });
  }

  /** Called for every audit event once committed. */
  onAudit(entry: AuditEntry): void {
    switch (entry.type) {
      case AuditEventType.LOGIN_SUCCEEDED:
      case AuditEventType.LOGIN_FAILED:
        this.signIns.inc({
          method: METHOD_LABELS[entry.method ?? SignInMethod.PASSWORD],
          outcome: entry.type === AuditEventType.LOGIN_SUCCEEDED ? 'success' : 'failure',
        });
        break;
      case AuditEventType.OTP_ACCEPTED:
        this.codes.inc({ event: 'accepted' });
        break;
      case AuditEventType.OTP_REJECTED:
        this.codes.inc({ event: 'rejected' });
        break;
      case AuditEventType.REFRESH_TOKEN_REUSE:
        this.reuse.inc();
        break;
      default:
    }
  }

  /** Delivered code emails count as codes sent; every failed attempt as a send failure. */
  readonly outboxHooks: OutboxHooks = {
    onSent: (kind) => {
      if (CODE_EMAIL_KINDS.has(kind)) this.codes.inc({ event: 'sent' });
    },
    onFailure: () => this.mailFailures.inc(),
  };

  /** Each webhook try, by outcome (a dead one is also counted as failed). */
  readonly webhookHooks: WebhookHooks = {
    onDelivered: () => this.webhooks.inc({ outcome: 'delivered' }),
    onFailure: () => this.webhooks.inc({ outcome: 'failed' }),
    onDead: () => this.webhooks.inc({ outcome: 'dead' }),
  };

  /** Observes every GraphQL request's duration under its root-field label (operationLabel). */
  requestPlugin(): ApolloServerPlugin {
    const durations = this.durations;
    return {
      async requestDidStart() {
        const started = process.hrtime.bigint();
        return {
          async willSendResponse({ schema, document, operation }) {
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            durations.observe({ operation: operationLabel(schema, document, operation) }, seconds);
          },
        };
      },
    };
  }

  /**
   * GET /metrics; with METRICS_TOKEN set, only for `Authorization: Bearer <token>`. In production without a
   * token it is not served at all (404, as for any unknown path): the public port shows nothing by default.
   */
  handler(token: string | undefined, isProduction = false): RequestHandler {
    return async (req, res, next) => {
      if (token === undefined && isProduction) {
        next();
        return;
      }
      if (token !== undefined && !safeEqual(req.get('authorization') ?? '', `Bearer ${token}`)) {
        res.status(401).json({ error: 'metrics need the METRICS_TOKEN bearer token' });
        return;
      }
      res.setHeader('Content-Type', this.registry.contentType);
      res.send(await this.registry.metrics());
    };
  }
}
