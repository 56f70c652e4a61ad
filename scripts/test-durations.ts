// Measures how long each test file takes where `npm test` runs it (in its group, beside the other workers) and writes
// tests/groups/durations.json, which `npm test` uses to balance its groups (tests/helpers/groups.ts). Run it after
// adding or growing test files. Each file is timed in its group, from its first hook to its last, not run on its own
// (TEST_GROUPS=off, as until 2026-12-07): the groups balanced by times taken that way ran 117-248 s, not ~180 s each.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-durations-'));
try {
  const record = join(dir, 'durations.tsv');
  writeFileSync(record, '');
  const run = spawnSync('npx', ['jest'], { stdio: 'inherit', env: { ...process.env, TEST_DURATIONS_FILE: record } });
  const seconds = Object.fromEntries(
    readFileSync(record, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t'))
      .map(([file, s]) => [file!, Math.round(Number(s) * 10) / 10] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  const file = join(__dirname, '..', 'tests', 'groups', 'durations.json');
  writeFileSync(file, `${JSON.stringify(seconds, null, 2)}\n`);
  console.log(`wrote ${Object.keys(seconds).length} durations to ${file}`);
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
