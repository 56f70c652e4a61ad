// Builds the executable schema from the type-graphql classes; `container` supplies resolver instances.
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { GraphQLScalarType, specifiedDirectives, type GraphQLSchema } from 'graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import { buildSchema, type ContainerType } from 'type-graphql';
import { AuthResolver } from '../modules/auth/auth.resolver';
import { SessionResolver } from '../modules/sessions/session.resolver';
import { AuditResolver } from '../modules/audit/audit.resolver';
import { UserAdminResolver } from '../modules/admin/user-admin.resolver';
import { UserResolver } from '../modules/users/user.resolver';
import { AUTH_DIRECTIVES } from '../common/requires-scopes';

export const RESOLVERS = [AuthResolver, SessionResolver, UserResolver, UserAdminResolver, AuditResolver] as const;

/** The contract calls the timestamp scalar `DateTime`: ISO 8601 strings with a time zone. */
const DateTimeScalar = new GraphQLScalarType({ ...DateTimeISOResolver.toConfig(), name: 'DateTime' });

export function buildTypeSchema(container?: ContainerType): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    container,
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
