// The upgrade to typed audit events (migration 20261206100000-audit-types): failures recorded before it get their
// typed reason and method from their `detail`, so the lockout keeps counting them. A database of its own.
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { ormOptions } from '../src/database/orm-options';
import { ENTITIES } from '../src/modules/entities';
import { createTestDatabase, queryDatabase } from './helpers/test-database';

describe('the upgrade', () => {
  it('gives the failures recorded before it their typed reason and method, so a lockout in progress holds', async () => {
    const db = await createTestDatabase();
    const orm = await MikroORM.init(ormOptions({ clientUrl: db.url, entities: ENTITIES, poolMax: db.poolSize }));
    try {
      await orm.getMigrator().up({ to: 'migration-20261203120000-otp-networks' });
      const details = ['wrong password', 'unknown email', 'email not verified', 'wrong current password'];
      for (const detail of [...details, 'account disabled']) {
        await queryDatabase(
          db.url,
          "insert into audit_events (type, email, detail, created_at) values ('LOGIN_FAILED', 'old@example.com', $1, now())",
          [detail],
        );
      }
      await queryDatabase(
        db.url,
        "insert into audit_events (type, email, detail, created_at) values ('LOGIN_SUCCEEDED', 'old@example.com', 'code (LOGIN)', now())",
      );
      await orm.getMigrator().up();
      const rows = await queryDatabase<{ type: string; method: string; reason: string | null }>(
        db.url,
        'select type, method, reason from audit_events order by id',
      );
      expect(rows).toEqual([
        { type: 'LOGIN_FAILED', method: 'PASSWORD', reason: 'WRONG_PASSWORD' },
        { type: 'LOGIN_FAILED', method: 'PASSWORD', reason: 'UNKNOWN_EMAIL' },
        { type: 'LOGIN_FAILED', method: 'PASSWORD', reason: 'EMAIL_NOT_VERIFIED' },
        { type: 'LOGIN_FAILED', method: 'PASSWORD', reason: 'WRONG_CURRENT_PASSWORD' },
        { type: 'LOGIN_FAILED', method: 'PASSWORD', reason: 'ACCOUNT_DISABLED' },
        { type: 'LOGIN_SUCCEEDED', method: 'CODE', reason: null },
      ]);
    } finally {
      await orm.close(true);
      await db.drop();
    }
  }, 60_000);
});
