// `npm test` runs the test files in a few groups (tests/groups/): each group is one jest test file that runs its
// files one after another, each as a describe block named after it, so the app's ~2,000 modules are loaded once
// per group instead of once per file (about 2-4 s of CPU a file). Every tests/*.test.ts file lands in exactly one
// group, chosen by the durations measured last (tests/groups/durations.json): longest first, into the group with
// the least so far. Naming files on the command line (npx jest tests/x.test.ts) runs them on their own.
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** How many group files tests/groups/ holds (group-1.test.ts …). */
export const GROUP_COUNT = 8;
/** Seconds assumed for a file not yet measured. */
const UNMEASURED = 10;

const TESTS = join(__dirname, '..');
const DURATIONS = join(TESTS, 'groups', 'durations.json');

/** The test files, each in one of `count` groups, balanced by `seconds`. */
export function partition(files: readonly string[], seconds: Record<string, number>, count: number): string[][] {
  const weight = (file: string) => seconds[file] ?? UNMEASURED;
  const groups = Array.from({ length: count }, () => ({ total: 0, files: [] as string[] }));
  const longestFirst = [...files].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b));
  for (const file of longestFirst) {
    const lightest = groups.reduce((min, g) => (g.total < min.total ? g : min));
    lightest.files.push(file);
    lightest.total += weight(file);
  }
  return groups.map((g) => g.files.sort());
}

export function testFiles(): string[] {
  return readdirSync(TESTS)
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
}

export function measuredSeconds(): Record<string, number> {
  return existsSync(DURATIONS) ? (JSON.parse(readFileSync(DURATIONS, 'utf8')) as Record<string, number>) : {};
}

// What a file that runs against the test database says somewhere in its text (the app, a database, a server).
const USES_TEST_DATABASE =
  /startTestApp\(|createTestDatabase\(|realPostgresUrl\(|TEST_DATABASE_URL|test-database|serverEnv\(/;

/** Whether `file` runs anything against the test database (PGlite, or TEST_DATABASE_URL's PostgreSQL). */
export function usesTestDatabase(file: string): boolean {
  return USES_TEST_DATABASE.test(readFileSync(join(TESTS, file), 'utf8'));
}

// What a file that drives Chromium says (the browser kit, the virtual authenticator).
const DRIVES_BROWSER = /helpers\/browser'|helpers\/webauthn'/;

/** Whether `file` drives a real Chromium (the playground, the example clients, passkeys, provider forms). */
export function drivesBrowser(file: string): boolean {
  return DRIVES_BROWSER.test(readFileSync(join(TESTS, file), 'utf8'));
}

/**
 * Whether every database `file` uses is the real PostgreSQL (realPostgresUrl): it asks for one, and each app or
 * database it makes is given that URL. Such a file runs the same whatever TEST_DATABASE_URL says.
 */
export function usesOnlyRealPostgres(file: string): boolean {
  const text = readFileSync(join(TESTS, file), 'utf8');
  const apps = text.match(/startTestApp\(/g)?.length ?? 0;
  const appsOnPostgres = text.match(/startTestApp\(\{\s*postgres:/g)?.length ?? 0;
  return /realPostgresUrl\(/.test(text) && apps === appsOnPostgres && !/createTestDatabase\(\)/.test(text);
}

/**
 * Throws when `file`, run by a group, makes a database on the run's test database (PGlite, or TEST_DATABASE_URL's
 * PostgreSQL) that the file's classification above says it does not use: read from its text, the classification can
 * miss a helper that makes one, and CI would then leave the file out of a pass it belongs in. A database the file
 * asks for on a real PostgreSQL by URL (realPostgresUrl) is not the test database, and is not checked.
 */
export function checkTestDatabaseUse(file: string): void {
  if (!usesTestDatabase(file)) {
    throw new Error(
      `${file} makes a test database, but usesTestDatabase (tests/helpers/groups.ts) does not find one in its text, ` +
        "so CI's PostgreSQL pass would leave it out: add what the file calls to USES_TEST_DATABASE",
    );
  }
  if (usesOnlyRealPostgres(file)) {
    throw new Error(
      `${file} makes a database on the run's test database, but usesOnlyRealPostgres (tests/helpers/groups.ts) ` +
        "counts it as using only the real PostgreSQL, so CI's PGlite pass would leave it out",
    );
  }
}

/**
 * Throws when `file`, run by a group, launches Chromium although drivesBrowser does not find the browser kit in its
 * text (a helper that launches it for the file, say): CI's PostgreSQL pass would run it, and the PGlite pass again.
 */
export function checkBrowserUse(file: string): void {
  if (!drivesBrowser(file)) {
    throw new Error(
      `${file} launches Chromium, but drivesBrowser (tests/helpers/groups.ts) does not find the browser kit in its ` +
        "text, so CI's PostgreSQL pass would run it too: import it from the file, or add what it calls to DRIVES_BROWSER",
    );
  }
}

let running: string | undefined;

/** The test file a group is running now; undefined when files run on their own (or between two files). */
export function runningFile(): string | undefined {
  return running;
}

/** Set by runGroup around each file; tests set it to check what a group does with a file. */
export function setRunningFile(file: string | undefined): void {
  running = file;
}

/**
 * The files `npm test` runs: every file, unless one of CI's two passes says otherwise. CI runs the suite on
 * PostgreSQL and then on PGlite (what a fresh machine runs). With TEST_POSTGRES_PASS=1 (CI's PostgreSQL pass) two
 * kinds of file are left to the PGlite pass: those that never touch the test database (pure units, the embedded
 * database's own files), which would run the same twice, and those that drive Chromium, whose server side is the
 * same GraphQL API the other files test on both databases while what they add (cookies, WebAuthn, CORS, the
 * playground page) does not depend on the database. With TEST_PGLITE_PASS=1 (CI's PGlite pass, after the PostgreSQL
 * one) the files that use only the real PostgreSQL (instances sharing it, NOTIFY, migrations racing, faults) are
 * left out: they ran, the same, in the first pass.
 */
export function suiteFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const files = testFiles();
  if (env.TEST_POSTGRES_PASS === '1') return files.filter((f) => usesTestDatabase(f) && !drivesBrowser(f));
  if (env.TEST_PGLITE_PASS === '1') return files.filter((f) => !usesOnlyRealPostgres(f));
  return files;
}

/**
 * Declares group `n` (1-based): each of its files as a describe block, loaded inside it. With TEST_DURATIONS_FILE set
 * (`npm run test:durations`), each file's seconds, from its first hook to its last, are appended to that file.
 */
export function runGroup(n: number, record = process.env.TEST_DURATIONS_FILE): void {
  const files = partition(suiteFiles(), measuredSeconds(), GROUP_COUNT)[n - 1] ?? [];
  for (const file of files) {
    describe(file, () => {
      let started = 0;
      beforeAll(() => setRunningFile(file)); // before the file's own hooks, as is the next
      if (record) beforeAll(() => void (started = Date.now()));
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a test file, loaded inside its describe block
      require(join(TESTS, file)); // its hooks and tests register inside this block
      if (record) afterAll(() => appendFileSync(record, `${file}\t${(Date.now() - started) / 1000}\n`)); // after them
      afterAll(() => setRunningFile(undefined));
    });
  }
}
