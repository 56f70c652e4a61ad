// Opens the database the Config names (a real PostgreSQL, or embedded PGlite) and applies migrations.
import { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config/config';
import { silentLogger, type Logger } from '../common/logger';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded';
import { MissingDatabaseError, serverOf } from './missing-database';
import { ormOptions, type OrmOptionsInput } from './orm-options';

export interface Database {
  readonly orm: MikroORM;
  /** The connection URL the ORM uses (for PGlite, its local socket). */
  readonly url: string;
  /**
   * Whether other connections can LISTEN for this database's NOTIFY: not on PGlite (embedded here, or reached
   * through its socket, as the tests do), where every connection is one backend session.
   */
  readonly notifications: boolean;
  /** Names of the migrations this open applied, in order (empty when the database was up to date). */
  readonly applied: readonly string[];
  close(): Promise<void>;
}

export interface OpenOptions {
  /** What this process is, named to another process that finds the embedded DATA_DIR taken. */
  readonly holder?: string;
}

// Errors that mean "the server is not (yet) there", worth waiting out at start-up. Not 3D000 (no such
// database): that one waits for a person, so it is refused at once (MissingDatabaseError).
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P03',
]);
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;
const RETRY_GIVE_UP_MS = 120_000;

function unreachable(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' && UNREACHABLE.has(code);
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

/**
 * The first query: whether this is PGlite (embedded here, or reached through its socket as the tests do), where
 * every connection is one backend session. A database that does not exist is refused here, before the migrator,
 * which would create it.
 */
async function isPglite(orm: MikroORM, clientUrl: string): Promise<boolean> {
  try {
    const [row] = await orm.em.getConnection().execute<{ version: string }[]>('select version() as version');
    return /PGlite/i.test(row?.version ?? '');
  } catch (err) {
    if ((err as { code?: unknown }).code === '3D000')
      throw new MissingDatabaseError(orm.config.get('dbName'), serverOf(clientUrl));
    throw err;
  }
}

/**
 * Applies pending migrations. Under a transaction-scoped advisory lock, so instances starting at once do not
 * race to create the same tables: the first migrates, the others wait and then find nothing to do. Not on
 * PGlite (one process, and its second connection would wait for the locking transaction) nor with a pool of
 * one connection.
 */
async function migrate(orm: MikroORM, withoutLock: boolean): Promise<string[]> {
  if (withoutLock) return (await orm.getMigrator().up()).map((m) => m.name);
  const connection = orm.em.getConnection();
  return connection.transactional(async (trx) => {
    await connection.execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK], 'all', trx);
    return (await orm.getMigrator().up({ transaction: trx })).map((m) => m.name);
  });
}

export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databasePoolSize'>,
  entities: OrmOptionsInput['entities'],
  logger: Logger = silentLogger,
  { holder = 'portcullis server' }: OpenOptions = {},
): Promise<Database> {
  const embedded: EmbeddedPostgres | undefined =
    config.databaseUrl === undefined ? await startEmbeddedPostgres(config.dataDir, 1, holder) : undefined;
  const clientUrl = embedded?.url ?? config.databaseUrl!;
  const options = ormOptions({ clientUrl, entities, poolMax: embedded ? 1 : config.databasePoolSize, logger });
  let pglite = embedded !== undefined;
  let applied: string[] = [];
  const orm = await untilReachable(async () => {
    const candidate = await MikroORM.init(options);
    try {
      pglite = (await isPglite(candidate, clientUrl)) || pglite;
      // The lock's transaction holds a connection while the migrator needs another.
      applied = await migrate(candidate, pglite || config.databasePoolSize < 2);
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
    applied,
    async close() {
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
