// `npm test` runs the test files in groups (tests/helpers/groups.ts): every file must run, exactly once.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkBrowserUse,
  checkTestDatabaseUse,
  drivesBrowser,
  GROUP_COUNT,
  measuredSeconds,
  partition,
  suiteFiles,
  testFiles,
  usesOnlyRealPostgres,
  usesTestDatabase,
} from './helpers/groups';

it('puts every test file in exactly one group, and has one group file per group', () => {
  const groups = partition(testFiles(), measuredSeconds(), GROUP_COUNT);
  expect(groups.flat().sort()).toEqual(testFiles());
  expect(groups.flat()).toHaveLength(new Set(groups.flat()).size);
  const groupFiles = readdirSync(join(__dirname, 'groups')).filter((f) => f.endsWith('.test.ts'));
  expect(groupFiles.sort()).toEqual(Array.from({ length: GROUP_COUNT }, (_, i) => `group-${i + 1}.test.ts`).sort());
});

it('balances the groups by the measured durations: longest first, into the lightest group', () => {
  const seconds = { 'a.test.ts': 50, 'b.test.ts': 30, 'c.test.ts': 15, 'd.test.ts': 10 };
  expect(partition(Object.keys(seconds), seconds, 2)).toEqual([['a.test.ts'], ['b.test.ts', 'c.test.ts', 'd.test.ts']]);
  // A file not measured yet counts as 10 s.
  expect(partition(['new.test.ts', 'a.test.ts'], seconds, 2)).toEqual([['a.test.ts'], ['new.test.ts']]);
});

it("CI's PostgreSQL pass (TEST_POSTGRES_PASS=1) leaves out only files that never touch the test database or drive Chromium", () => {
  const all = suiteFiles({});
  const postgresPass = suiteFiles({ TEST_POSTGRES_PASS: '1' });
  const left = all.filter((f) => !postgresPass.includes(f));
  // The files that start the app or a database stay in it; the embedded database's own files, pure units and the
  // browser-driven files go.
  for (const file of ['otp.test.ts', 'permissions.test.ts', 'shutdown.test.ts', 'instances.test.ts']) {
    expect(postgresPass).toContain(file);
  }
  // test-pglite.test.ts tests the run's PGlite, which this pass does not start.
  for (const file of [
    'data-dir-lock.test.ts',
    'embedded.test.ts',
    'test-groups.test.ts',
    'schema.test.ts',
    'test-pglite.test.ts',
  ]) {
    expect(left).toContain(file);
  }
  for (const file of ['passkeys-browser.test.ts', 'playground.test.ts', 'example-client-cookie.test.ts']) {
    expect(left).toContain(file);
  }
  for (const file of left) expect(!usesTestDatabase(file) || drivesBrowser(file)).toBe(true);
  for (const file of postgresPass) expect(usesTestDatabase(file) && !drivesBrowser(file)).toBe(true);
  expect(suiteFiles({ TEST_POSTGRES_PASS: '0' })).toEqual(all);
});

it("CI's PGlite pass (TEST_PGLITE_PASS=1) leaves out only the files that use nothing but the real PostgreSQL", () => {
  const all = suiteFiles({});
  const pglitePass = suiteFiles({ TEST_PGLITE_PASS: '1' });
  const left = all.filter((f) => !pglitePass.includes(f));
  for (const file of ['faults.test.ts', 'migrate-together.test.ts', 'database-url.test.ts', 'session-cache.test.ts']) {
    expect(left).toContain(file);
  }
  // A file that also starts an app on the test database (PGlite here) stays, as do the embedded database's own.
  for (const file of ['signing-key-rotation.test.ts', 'api-keys.test.ts', 'otp.test.ts', 'embedded.test.ts']) {
    expect(pglitePass).toContain(file);
  }
  for (const file of left) expect(usesOnlyRealPostgres(file)).toBe(true);
  // Each of them ran in the PostgreSQL pass.
  const postgresPass = suiteFiles({ TEST_POSTGRES_PASS: '1' });
  for (const file of left) expect(postgresPass).toContain(file);
  expect(suiteFiles({ TEST_PGLITE_PASS: '0' })).toEqual(all);
});

it('refuses a test database to a file whose classification says it uses none, or only the real PostgreSQL', () => {
  // A file that makes no database: CI's PostgreSQL pass leaves it out, so it must not make one on the test database.
  expect(usesTestDatabase('schema.test.ts')).toBe(false);
  expect(() => checkTestDatabaseUse('schema.test.ts')).toThrow(
    /schema\.test\.ts makes a test database, but usesTestDatabase .* PostgreSQL pass would leave it out/,
  );
  // A file counted as using only the real PostgreSQL: CI's PGlite pass leaves it out.
  expect(usesOnlyRealPostgres('faults.test.ts')).toBe(true);
  expect(() => checkTestDatabaseUse('faults.test.ts')).toThrow(
    /faults\.test\.ts makes a database on the run's test database, .* PGlite pass would leave it out/,
  );
  // A file that runs in both passes may.
  expect(() => checkTestDatabaseUse('otp.test.ts')).not.toThrow();
});

it('refuses Chromium to a file that drivesBrowser does not count as driving it', () => {
  // CI's PostgreSQL pass leaves the browser files to the PGlite pass, by what their text imports.
  expect(drivesBrowser('otp.test.ts')).toBe(false);
  expect(() => checkBrowserUse('otp.test.ts')).toThrow(
    /otp\.test\.ts launches Chromium, but drivesBrowser .* PostgreSQL pass would run it too/,
  );
  expect(() => checkBrowserUse('playground.test.ts')).not.toThrow();
});
