// GraphQL Code Generator config: typed documents for the example client's operations, from schema.graphql.
// `npm run codegen` writes the file; tests/codegen.test.ts fails when the committed copy is stale.
import type { CodegenConfig } from '@graphql-codegen/cli';

export const GENERATED_FILE = 'examples/client/generated/graphql.ts';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: 'examples/client/operations.graphql',
  generates: {
    [GENERATED_FILE]: {
      // typescript-operations 6 emits the enums and inputs the operations use by itself; adding the
      // `typescript` plugin would declare them twice (and every schema object type, unused by clients).
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        // Fail on a new custom scalar until it is mapped here, instead of typing it `unknown`.
        strictScalars: true,
        // DateTime: ISO 8601 in UTC, as sent on the wire; JSON: WebAuthn options and responses, checked by their libraries.
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumType: 'string-literal', // `'VERIFY_EMAIL'`: no runtime code, assignable from plain strings
        useTypeImports: true, // `import type`, for isolatedModules / verbatimModuleSyntax consumers
      },
    },
  },
};

export default config;
