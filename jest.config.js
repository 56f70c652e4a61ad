// Jest for the integration suite: real HTTP servers, PGlite or PostgreSQL, SMTP and Redis in the test run.

/** True when the command line names test files (`npx jest tests/otp.test.ts`), or TEST_GROUPS=off. */
function eachFileOnItsOwn() {
  if (process.env.TEST_GROUPS === 'off') return true;
  return process.argv.slice(2).some((arg) => /\.test\.ts$|^tests\/[^/]*$|\.test$/.test(arg));
}

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  // `npm test` runs the files in groups (tests/helpers/groups.ts: the app's modules load once per group); test
  // files named on the command line, or TEST_GROUPS=off, run each file on its own.
  ...(eachFileOnItsOwn()
    ? { testMatch: ['<rootDir>/tests/*.test.ts'] }
    : { testMatch: ['<rootDir>/tests/groups/*.test.ts'] }),
  globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/tests/helpers/global-teardown.ts',
  setupFiles: ['reflect-metadata'],
  testTimeout: 30000,
  // Four workers whatever the cores (jest's default, cores - 1, runs in band on 2): the tests wait on HTTP, the
  // database, SMTP and child processes much of the time, and on 2 cores four workers kept both busier than two did
  // (npm test 244 s → 208 s back to back; docs/development.md). No more than 4, as every worker's PGlite runs on
  // jest's main thread.
  maxWorkers: 4,
  // Each test file loads the whole app (~2,000 modules) into a fresh registry; recycle a worker that has grown.
  workerIdleMemoryLimit: '1GB',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        },
        module: { type: 'commonjs' },
      },
    ],
    // ESM-only packages the server requires (Node 20.19+ loads them with require(); jest's loader cannot).
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|openid-client|oauth4webapi)/)'],
};
