// Measures how long each test file takes on its own (TEST_GROUPS=off) and writes tests/groups/durations.json, which
// `npm test` uses to balance its groups (tests/helpers/groups.ts). Run it after adding or growing test files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

interface JestJson {
  success: boolean;
  testResults: Array<{ name: string; startTime: number; endTime: number }>;
}

const dir = mkdtempSync(join(tmpdir(), 'portcullis-durations-'));
try {
  const output = join(dir, 'jest.json');
  const run = spawnSync('npx', ['jest', '--json', `--outputFile=${output}`], {
    stdio: 'inherit',
    env: { ...process.env, TEST_GROUPS: 'off' },
  });
  const result = JSON.parse(readFileSync(output, 'utf8')) as JestJson;
  const seconds = Object.fromEntries(
    result.testResults
      .map((t) => [basename(t.name), Math.round((t.endTime - t.startTime) / 100) / 10] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  const file = join(__dirname, '..', 'tests', 'groups', 'durations.json');
  writeFileSync(file, `${JSON.stringify(seconds, null, 2)}\n`);
  console.log(`wrote ${Object.keys(seconds).length} durations to ${file}`);
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
