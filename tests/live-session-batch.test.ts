// The uncached session check of concurrent requests is one statement per event-loop turn
// (modules/sessions/live-session-batch.ts), and each request still gets its own session's answer.
import { LiveSessionBatch, MAX_BATCH } from '../src/modules/sessions/live-session-batch';
import { me, signUp, type Tokens } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

interface Row {
  readonly sessionId: string;
  readonly n: number;
}

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('the batch', () => {
  it('answers every check asked for in one turn with one query, each with its own row', async () => {
    const calls: string[][] = [];
    const batch = new LiveSessionBatch<Row, null>(async (ids) => {
      calls.push(ids);
      return ids.filter((_, i) => i % 2 === 0).map((sessionId) => ({ sessionId, n: Number(sessionId.slice(-3)) }));
    });
    const answers = await Promise.all([1, 2, 3, 4, 1].map((n) => batch.load(id(n), null)));
    expect(calls).toEqual([[id(1), id(2), id(3), id(4)]]); // the repeated id is asked for once
    expect(answers).toEqual([
      { sessionId: id(1), n: 1 },
      null,
      { sessionId: id(3), n: 3 },
      null,
      { sessionId: id(1), n: 1 },
    ]);
  });

  it('starts a new query for checks asked for after the turn, and splits a turn over MAX_BATCH ids', async () => {
    const sizes: number[] = [];
    const batch = new LiveSessionBatch<Row, null>(async (ids) => {
      sizes.push(ids.length);
      return [];
    });
    await batch.load(id(1), null);
    await batch.load(id(2), null);
    await Promise.all(Array.from({ length: MAX_BATCH + 1 }, (_, i) => batch.load(id(i + 10), null)));
    expect(sizes).toEqual([1, 1, MAX_BATCH, 1]);
  });

  it('fails every check of a failed query, and answers null without a query for an id that is not a UUID', async () => {
    let queries = 0;
    const batch = new LiveSessionBatch<Row, null>(async () => {
      queries += 1;
      throw new Error('database down');
    });
    expect(await batch.load('not-a-uuid', null)).toBeNull();
    expect(queries).toBe(0);
    const both = await Promise.allSettled([batch.load(id(1), null), batch.load(id(2), null)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(queries).toBe(1);
  });
});

describe('through the server', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers 24 simultaneous first checks of 24 sessions each with its own user, and refuses the one ended', async () => {
    const users: Tokens[] = [];
    for (let i = 0; i < 24; i++) users.push(await signUp(app));
    const ended = users[7]!;
    await app.sql("update sessions set revoked_at = now(), revoked_reason = 'revoked' where user_id = ?", [
      ended.user.id,
    ]);

    const answers = await Promise.all(users.map((u) => me(app, u.accessToken)));

    answers.forEach((res, i) => {
      if (i === 7) expect(errorCode(res)).toBe('UNAUTHENTICATED');
      else expect(res.data?.me.id).toBe(users[i]!.user.id);
    });
  });
});
