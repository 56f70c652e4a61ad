// Jest for the integration suite: real HTTP servers, PGlite or PostgreSQL, SMTP and Redis in the test run.

/** True when the command line names test files (`npx jest tests/otp.test.ts`), or TEST_GROUPS=off. */
function eachFileOnItsOwn() {
  if (process.env.TEST_GROUPS === 'off') return true;
  return process.argv.slice(2).some((arg) => /\.test\.ts$|^tests\/[^/]*$|\.test$/.test(arg));
}

/**
 * Four workers whatever the cores (jest's default, cores - 1, runs in band on 2): the tests wait on HTTP, the database,
 * SMTP and child processes much of the time, and on 2 cores four workers kept both busier than two did (npm test 244 s
 * → 208 s back to back; docs/test-time.md). No more than 4, as every worker's PGlite runs on jest's main thread.
 * Fewer when the command line names fewer test files: jest forks every worker and global setup starts a PGlite for
 * each, whether it gets a file or not (`npx jest tests/otp.test.ts`: ~4 s of CPU and ~3 s of waiting saved).
 */
function workers() {
  const named = process.argv.slice(2).filter((arg) => /\.test\.ts$/.test(arg)).length;
  return named > 0 ? Math.min(4, named) : 4;
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
  maxWorkers: workers(),
  // Each test file loads the whole app (~2,000 modules) into a fresh registry; recycle a worker that has grown.
  workerIdleMemoryLimit: '1GB',
  // A worker that has run a group holds a heap of 240-615 MB, and a process takes 0.3-0.9 s to free it after its last
  // handle closes; jest's default 500 ms then force-exits it and warns of a leak that is not there. Handles still
  // open after this long are a leak, and jest still warns of them.
  workerGracefulExitTimeout: 5000,
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
