// The typed documents consumers use stay in step with schema.graphql: the example operations validate
// against the schema, and the committed generated file is exactly what `npm run codegen` writes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildSchema, Kind, parse, validate, type OperationDefinitionNode } from 'graphql';
import { GENERATED_FILE } from '../codegen';

const ROOT = resolve(__dirname, '..');
const OPERATIONS = join(ROOT, 'examples/client/operations.graphql');

// @graphql-codegen/cli loads ES modules jest's CommonJS runtime cannot require, so it runs in a child
// Node process: codegen.ts read by the CLI's own loader, outputs kept in memory, then written as JSON.
const GENERATE_IN_MEMORY = `
const { generate, loadContext } = require('@graphql-codegen/cli');
loadContext('codegen.ts')
  .then((context) => generate(context, false))
  .then((files) => require('node:fs').writeFileSync(process.argv[1], JSON.stringify(files)))
  .catch((error) => { console.error(error); process.exit(1); });
`;

async function generateInMemory(): Promise<Array<{ filename: string; content: string }>> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-codegen-'));
  try {
    const out = join(dir, 'outputs.json');
    await promisify(execFile)(process.execPath, ['-e', GENERATE_IN_MEMORY, out], { cwd: ROOT });
    return JSON.parse(await readFile(out, 'utf8')) as Array<{ filename: string; content: string }>;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

it('the example operations are valid against schema.graphql', async () => {
  const schema = buildSchema(await readFile(join(ROOT, 'schema.graphql'), 'utf8'));
  const document = parse(await readFile(OPERATIONS, 'utf8'));

  expect(validate(schema, document).map((e) => e.message)).toEqual([]);
  const names = document.definitions
    .filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
    .map((d) => d.name?.value);
  expect(names.sort()).toEqual(
    [
      'Assurance',
      'ChangePassword',
      'CompleteSocialLink',
      'CompleteSocialSignIn',
      'ConfirmTotp',
      'EnrollTotp',
      'FinishPasskeyRegistration',
      'FinishPasskeySignIn',
      'IdentityProviders',
      'Login',
      'Logout',
      'LogoutAll',
      'Me',
      'MfaStatus',
      'Reauthenticate',
      'Refresh',
      'RegenerateRecoveryCodes',
      'Register',
      'RemoveMfaFactor',
      'RequestOtp',
      'ResetPassword',
      'RevokeSession',
      'Sessions',
      'SignInWithIdToken',
      'StartPasskeyReauthentication',
      'StartPasskeyRegistration',
      'StartPasskeySignIn',
      'StartSocialLink',
      'StartSocialSignIn',
      'VerifyMfa',
      'VerifyOtp',
    ].sort(),
  );
});

it('the committed generated types are current (else run `npm run codegen`)', async () => {
  const outputs = await generateInMemory();

  expect(outputs.map((o) => o.filename)).toEqual([GENERATED_FILE]);
  const committed = await readFile(join(ROOT, GENERATED_FILE), 'utf8').catch(() => '(missing)');
  if (committed !== outputs[0]!.content) {
    throw new Error(`${GENERATED_FILE} is stale: run \`npm run codegen\` and commit the result`);
  }
}, 60_000);
