// The one mapping to a PrincipalUser (what a request knows of its caller), from the User entity or from a SQL row
// selected with the entity's property names. It copies the fields, so no secret (the password hash) is carried along.
import type { PrincipalUser } from '../../common/request-context';

export type PrincipalUserSource = Omit<PrincipalUser, 'createdAt'> & { readonly createdAt: Date | string };

export function toPrincipalUser(source: PrincipalUserSource): PrincipalUser {
  return {
    id: source.id,
    email: source.email,
    fullName: source.fullName,
    emailVerified: source.emailVerified,
    active: source.active,
    roles: [...source.roles],
    createdAt: new Date(source.createdAt),
  };
}
