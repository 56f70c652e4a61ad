// The layers of src/ (docs/architecture.md), checked by `npm run check`:
// common → config → database → modules → permissions, rate-limit → server → main. A layer imports only layers left of it.
const layer = (name, mayImport) => ({
  name: `${name}-imports-down`,
  comment: `src/${name} imports only ${mayImport.join(', ')} (docs/architecture.md)`,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: mayImport.map((l) => `^src/${l}/`) },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Imports go one way: a cycle means two files each need the other.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'Nor between folders: two modules that need each other are one module, or share a lower one.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'modules-not-to-server',
      comment: 'A module never reaches up into the HTTP/GraphQL wiring; the request types live in common/.',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/server/' },
    },
    layer('common', ['common']),
    layer('config', ['common', 'config']),
    layer('database', ['common', 'config', 'database']),
    layer('modules', ['common', 'config', 'database', 'modules']),
    layer('permissions', ['common', 'config', 'permissions']),
    layer('rate-limit', ['common', 'config', 'rate-limit']),
    layer('server', ['common', 'config', 'database', 'modules', 'permissions', 'rate-limit', 'server']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true, // type-only imports count: a type cycle is still a cycle
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/database/migrations/' },
  },
};
