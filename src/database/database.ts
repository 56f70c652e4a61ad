// Opens the database the Config names (a real PostgreSQL, or embedded PGlite) and applies migrations.
import { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config/config';
import { silentLogger, type Logger } from '../common/logger';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded';
import { ormOptions } from './orm-options';

export interface Database {
  readonly orm: MikroORM;
  /** The connection URL the ORM uses (for PGlite, its local socket). */
  readonly url: string;
  /**
   * Whether other connections can LISTEN for this database's NOTIFY: not on PGlite (embedded here, or reached
   * through its socket, as the tests do), where every connection is one backend session.
   */
  readonly notifications: boolean;
  close(): Promise<void>;
}

// Errors that mean "the server is not (yet) there", worth waiting out at start-up.
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P03']);
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;
const RETRY_GIVE_UP_MS = 120_000;

function unreachable(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  return UNREACHABLE.has(String(e?.code ?? e?.cause?.code ?? ''));
}

/** Runs `open`, retrying with backoff (and one clear log line a try) while PostgreSQL is unreachable. */
async function untilReachable<T>(open: () => Promise<T>, logger: Logger): Promise<T> {
  const started = Date.now();
  for (let delay = RETRY_FIRST_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
    try {
      return await open();
    } catch (err) {
      if (!unreachable(err) || Date.now() - started > RETRY_GIVE_UP_MS) throw err;
      logger.warn(`PostgreSQL is not answering; retrying in ${delay / 1000} s`, {
        reason: String((err as { message?: unknown }).message ?? err),
      });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Any constant: instances starting together on one database take it to migrate one at a time. */
const MIGRATION_LOCK = 7_263_016_734;

/** PGlite (embedded here, or reached through its socket as the tests do): every connection is one backend session. */
async function isPglite(orm: MikroORM): Promise<boolean> {
  const [row] = await orm.em.getConnection().execute<{ version: string }[]>('select version() as version');
  return /PGlite/i.test(row?.version ?? '');
}

/**
 * Applies pending migrations. Under a transaction-scoped advisory lock, so instances starting at once do not
 * race to create the same tables: the first migrates, the others wait and then find nothing to do. Not on
 * PGlite (one process, and its second connection would wait for the locking transaction) nor with a pool of
 * one connection.
 */
async function migrate(orm: MikroORM, withoutLock: boolean): Promise<void> {
  if (withoutLock) {
    await orm.getMigrator().up();
    return;
  }
  const connection = orm.em.getConnection();
  await connection.transactional(async (trx) => {
    await connection.execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK], 'all', trx);
    await orm.getMigrator().up({ transaction: trx });
  });
}

export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databasePoolSize'>,
  logger: Logger = silentLogger,
): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let clientUrl = config.databaseUrl;
  if (clientUrl === undefined) {
    embedded = await startEmbeddedPostgres(config.dataDir);
    clientUrl = embedded.url;
  }
  const options = ormOptions({ clientUrl, poolMax: embedded ? 1 : config.databasePoolSize, logger });
  let pglite = embedded !== undefined;
  const orm = await untilReachable(async () => {
    const candidate = await MikroORM.init(options);
    try {
      pglite ||= await isPglite(candidate);
      // The lock's transaction holds a connection while the migrator needs another.
      await migrate(candidate, pglite || config.databasePoolSize < 2);
      return candidate;
    } catch (err) {
      await candidate.close(true);
      throw err;
    }
  }, logger).catch(async (err: unknown) => {
    await embedded?.stop();
    throw err;
  });
  return {
    orm,
    url: clientUrl,
    notifications: !pglite,
    async close() {
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
