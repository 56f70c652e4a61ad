// Cost of one password-policy check (rules, 10,000-list, zxcvbn-ts) on 128-character inputs, the longest allowed.
// Run: npx ts-node --transpile-only bench/password-strength.ts [rounds]. Reports CPU time per check (not wall
// time, which on a shared machine measures the neighbours), median and worst over `rounds` per input.
import { randomInt } from 'node:crypto';
import { passwordProblems } from '../src/modules/passwords/password-policy';

const LENGTH = 128;
const PRINTABLE = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
const L33T = '4@8({[<3=6&#1|!il0o9qg5$7+2z%aAeEsStT';

function random(alphabet: string, length = LENGTH): string {
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}

const fill = (unit: string): string => unit.repeat(Math.ceil(LENGTH / unit.length)).slice(0, LENGTH);

// Shapes that stress the matchers: random (many brute-force segments), l33t-heavy (substitution variants),
// dictionary words, keyboard walks, sequences, dates and repeats.
const INPUTS: Record<string, () => string> = {
  'random printable': () => random(PRINTABLE),
  'random l33t characters': () => random(L33T),
  'P@ssw0rd repeated': () => fill('P@ssw0rd'),
  'words and symbols': () => fill('Correct-Horse-Battery-Staple-9!'),
  'keyboard walk': () => fill('1qaz2wsx3edc4rfv!QAZ@WSX'),
  'digits and dates': () => fill('19841231Aa!2024-02-29'),
  'one character': () => 'Aa1!' + 'x'.repeat(LENGTH - 4),
  'alternating il1|!': () => fill('il1|!Il1|!'),
};

function cpuMs(run: () => void): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function main(): void {
  const rounds = Number(process.argv[2] ?? 50);
  const owner = { email: 'alice.smith@example.com', fullName: 'Alice Smith' };
  const setupMs = cpuMs(() => passwordProblems('Warm-Up-Password-1', owner)); // builds the dictionaries once
  console.log(`first check (builds the estimator): ${setupMs.toFixed(0)} ms CPU`);
  let worst = 0;
  for (const [name, make] of Object.entries(INPUTS)) {
    const times = Array.from({ length: rounds }, () => {
      const password = make();
      return cpuMs(() => passwordProblems(password, owner));
    }).sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const max = times[times.length - 1]!;
    worst = Math.max(worst, median);
    console.log(`${name.padEnd(24)} median ${median.toFixed(2)} ms  max ${max.toFixed(2)} ms CPU per check`);
  }
  console.log(`worst median: ${worst.toFixed(2)} ms CPU per 128-character check (budget 10 ms)`);
}

main();
