// The after-commit queue (database/after-commit.ts) on the real database: a task runs only once the change it
// follows is committed and visible to other connections, and never for a rolled-back transaction or a failed flush.
import 'reflect-metadata';
import { AfterCommit } from '../src/database/after-commit';
import { openDatabase, type Database } from '../src/database/database';
import { ENTITIES } from '../src/modules/entities';
import { MailOutbox } from '../src/modules/mail/mail-outbox.entity';
import { createTestDatabase, queryDatabase, type TestDatabase } from './helpers/test-database';

let testDb: TestDatabase;
let db: Database;
let queue: AfterCommit;
const taskErrors: unknown[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ databaseUrl: testDb.url, dataDir: '', databasePoolSize: testDb.poolSize }, ENTITIES);
  queue = AfterCommit.attach(db.orm, (err) => taskErrors.push(err));
}, 60_000);
afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

function outboxRow(recipient: string) {
  const now = new Date();
  return { recipient, kind: 'code', payload: 'sealed', createdAt: now, nextAttemptAt: now } as const;
}

/** Rows of mail_outbox for `recipient`, read by a connection of its own (what another instance would see). */
async function committedRows(recipient: string): Promise<number> {
  if (testDb.poolSize === 1) {
    // PGlite is one backend session: read through the ORM's own (outside any transaction).
    return db.orm.em.fork().count(MailOutbox, { recipient });
  }
  const rows = await queryDatabase<{ n: string }>(
    testDb.url,
    'select count(*) as n from mail_outbox where recipient = $1',
    [recipient],
  );
  return Number(rows[0]!.n);
}

describe('AfterCommit', () => {
  it('runs a task queued in em.transactional once, after the commit, when the row is visible', async () => {
    const seen: number[] = [];
    await db.orm.em.fork().transactional(async (tx) => {
      tx.create(MailOutbox, outboxRow('tx@example.com'));
      queue.add(tx, () => seen.push(1));
    });
    expect(seen).toEqual([1]); // once
    expect(await committedRows('tx@example.com')).toBe(1);
  });

  it('runs the task after the commit, not before: a task reading the row finds it', async () => {
    const found: Promise<number>[] = [];
    await db.orm.em.fork().transactional(async (tx) => {
      tx.create(MailOutbox, outboxRow('after@example.com'));
      queue.add(tx, () => found.push(committedRows('after@example.com')));
      await tx.flush(); // written inside the transaction, not yet committed
      if (testDb.poolSize > 1) expect(await committedRows('after@example.com')).toBe(0);
      expect(found).toEqual([]);
    });
    expect(found).toHaveLength(1);
    expect(await found[0]).toBe(1);
  });

  it('drops the tasks of a transaction that rolls back', async () => {
    const ran: string[] = [];
    await expect(
      db.orm.em.fork().transactional(async (tx) => {
        tx.create(MailOutbox, outboxRow('rollback@example.com'));
        queue.add(tx, () => ran.push('rolled back'));
        await tx.flush();
        throw new Error('the flow fails after writing');
      }),
    ).rejects.toThrow('the flow fails after writing');
    expect(ran).toEqual([]);
    expect(await committedRows('rollback@example.com')).toBe(0);
  });

  it('outside a transaction, runs the task with the flush that commits, and drops it when that flush fails', async () => {
    const ran: string[] = [];
    const em = db.orm.em.fork();
    em.create(MailOutbox, outboxRow('flush@example.com'));
    queue.add(em, () => ran.push('flushed'));
    expect(ran).toEqual([]);
    await em.flush();
    expect(ran).toEqual(['flushed']);

    const failing = db.orm.em.fork();
    failing.create(MailOutbox, { ...outboxRow('bad@example.com'), kind: null as unknown as string }); // not null
    queue.add(failing, () => ran.push('failed flush'));
    await expect(failing.flush()).rejects.toThrow();
    expect(ran).toEqual(['flushed']);
    // Dropped, not kept for the next commit of the same EntityManager.
    failing.clear();
    failing.create(MailOutbox, outboxRow('good@example.com'));
    await failing.flush();
    expect(ran).toEqual(['flushed']);
  });

  it('a task that throws is reported and does not stop the others', async () => {
    const ran: string[] = [];
    await db.orm.em.fork().transactional(async (tx) => {
      tx.create(MailOutbox, outboxRow('throws@example.com'));
      queue.add(tx, () => {
        throw new Error('task failed');
      });
      queue.add(tx, () => ran.push('second'));
    });
    expect(ran).toEqual(['second']);
    expect(taskErrors).toEqual([expect.objectContaining({ message: 'task failed' })]);
  });
});
