// `node dist/bench/profile-summary.js file.cpuprofile [top]`: self time of a V8 CPU profile (node --cpu-prof)
// by function and by module (npm package, project file, or Node internals), busiest first, idle excluded,
// from the first GraphQL request on (so start-up — module loading, schema building — does not count).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/dist\/(.+)$/.exec(url);
  return own ? own[1]! : url;
}

function top(map: Map<string, number>, total: number, n: number): string[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([name, us]) =>
        `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`,
    );
}

/** Ids of the nodes at or under a call of `functionName`. */
function under(profile: Profile, functionName: string): Set<number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const found = new Set<number>();
  const mark = (id: number): void => {
    found.add(id);
    for (const child of byId.get(id)?.children ?? []) mark(child);
  };
  for (const node of profile.nodes)
    if (node.callFrame.functionName === functionName && !found.has(node.id)) mark(node.id);
  return found;
}

export function summarize(profile: Profile, n = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const fns = new Map<string, number>();
  const modules = new Map<string, number>();
  const serving = under(profile, 'processGraphQLRequest');
  const first = Math.max(
    0,
    profile.samples.findIndex((id) => serving.has(id)),
  );
  let skipped = 0;
  let busy = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    if (i < first) {
      skipped += us;
      return;
    }
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      return;
    }
    busy += us;
    const mod = moduleOf(url, functionName);
    const fn = `${functionName || '(anonymous)'}  ${mod}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    modules.set(mod, (modules.get(mod) ?? 0) + us);
  });
  return [
    `start-up skipped: ${(skipped / 1e6).toFixed(1)} s; then busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s; shares are of busy time`,
    '',
    'self time by module:',
    ...top(modules, busy, n),
    '',
    'self time by function:',
    ...top(fns, busy, n),
  ].join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-summary.js <file.cpuprofile> [how many lines]');
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(process.argv[3] ?? 25)));
}
