// Builds the executable schema from the type-graphql classes. RESOLVERS is the one registry of resolvers: each
// class with how it is made from the services.
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { GraphQLScalarType, specifiedDirectives, type GraphQLSchema } from 'graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import { buildSchema, type BuildSchemaOptions } from 'type-graphql';
import type { Services } from './services';
import { AuthResolver } from '../modules/auth/auth.resolver';
import { SessionResolver } from '../modules/sessions/session.resolver';
import { AuditResolver } from '../modules/audit/audit.resolver';
import { UserAdminResolver } from '../modules/admin/user-admin.resolver';
import { UserResolver } from '../modules/users/user.resolver';
import { IdentityResolver } from '../modules/identities/identity.resolver';
import { AUTH_DIRECTIVES } from '../common/requires-scopes';
import { MfaResolver } from '../modules/mfa/mfa.resolver';
import { MfaUserResolver } from '../modules/mfa/mfa-user.resolver';
import { SecondFactorResolver } from '../modules/auth/second-factor.resolver';
import { ApiKeyResolver } from '../modules/api-keys/api-key.resolver';
import { SigningKeyResolver } from '../modules/signing-keys/signing-key.resolver';
import { WebhookResolver } from '../modules/webhooks/webhook.resolver';
import { AccountResolver } from '../modules/account/account.resolver';

export const RESOLVERS = [
  [AuthResolver, (s: Services) => new AuthResolver(s.auth)],
  [SessionResolver, (s: Services) => new SessionResolver(s.sessions)],
  [UserResolver, () => new UserResolver()],
  [UserAdminResolver, (s: Services) => new UserAdminResolver(s.userAdmin)],
  [AuditResolver, (s: Services) => new AuditResolver(s.audit)],
  [IdentityResolver, (s: Services) => new IdentityResolver(s.social, s.identities)],
  [MfaResolver, (s: Services) => new MfaResolver(s.mfa, s.passkeys)],
  [MfaUserResolver, (s: Services) => new MfaUserResolver(s.mfa)],
  [SecondFactorResolver, (s: Services) => new SecondFactorResolver(s.secondFactor)],
  [ApiKeyResolver, (s: Services) => new ApiKeyResolver(s.apiKeys)],
  [SigningKeyResolver, (s: Services) => new SigningKeyResolver(s.keyRing, s.audit)],
  [WebhookResolver, (s: Services) => new WebhookResolver(s.webhooks)],
  [AccountResolver, (s: Services) => new AccountResolver(s.emailChange, s.accountDeletion, s.clock)],
] as const;

/** The contract calls the timestamp scalar `DateTime`: ISO 8601 strings with a time zone. */
const DateTimeScalar = new GraphQLScalarType({ ...DateTimeISOResolver.toConfig(), name: 'DateTime' });

/** With `services`, the resolvers answer from them; without, the schema is for printing and checking only. */
export function buildTypeSchema(services?: Services): Promise<GraphQLSchema> {
  const instances = new Map<unknown, unknown>(services && RESOLVERS.map(([cls, make]) => [cls, make(services)]));
  return buildSchema({
    resolvers: RESOLVERS.map(([cls]) => cls) as unknown as BuildSchemaOptions['resolvers'], // a non-empty tuple there
    container: services && { get: (cls: unknown) => instances.get(cls) },
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    directives: [...specifiedDirectives, ...AUTH_DIRECTIVES],
    validate: false,
    emitSchemaFile: false,
  });
}

/** The SDL committed as schema.graphql. */
export async function printSchemaFile(): Promise<string> {
  const header = '# Generated from the type-graphql classes by `npm run schema`. Do not edit.\n\n';
  return header + printSchemaWithDirectives(await buildTypeSchema()) + '\n';
}
