// Roles → scopes: the one table (docs/contract.md) that the token's `scope` claim, `User.scopes` and the rules derive from.
import { registerEnumType } from 'type-graphql';

export enum Role {
  USER = 'USER',
  SUPPORT = 'SUPPORT',
  ADMIN = 'ADMIN',
}

registerEnumType(Role, {
  name: 'Role',
  description: 'Roles a user can hold. Each role grants a fixed set of scopes (see `User.scopes`).',
});

export const Scope = {
  SELF_READ: 'self:read',
  SELF_WRITE: 'self:write',
  USERS_READ: 'users:read',
  USERS_WRITE: 'users:write',
  ROLES_WRITE: 'roles:write',
  /** POST /oauth/introspect: resource servers hold it through an API key an admin made. */
  TOKENS_INTROSPECT: 'tokens:introspect',
  /** webhookDeliveries and redeliverWebhook: the webhook dead letter and its redelivery. */
  WEBHOOKS_MANAGE: 'webhooks:manage',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

export const ALL_SCOPES: readonly Scope[] = Object.values(Scope);

export const ROLE_SCOPES: Readonly<Record<Role, readonly Scope[]>> = Object.freeze({
  [Role.USER]: [Scope.SELF_READ, Scope.SELF_WRITE],
  [Role.SUPPORT]: [Scope.SELF_READ, Scope.SELF_WRITE, Scope.USERS_READ],
  [Role.ADMIN]: [
    Scope.SELF_READ,
    Scope.SELF_WRITE,
    Scope.USERS_READ,
    Scope.USERS_WRITE,
    Scope.ROLES_WRITE,
    Scope.TOKENS_INTROSPECT,
    Scope.WEBHOOKS_MANAGE,
  ],
});

/** Union of the scopes granted by `roles`, sorted. */
export function scopesOf(roles: readonly Role[]): string[] {
  const set = new Set<string>();
  for (const role of roles) for (const scope of ROLE_SCOPES[role] ?? []) set.add(scope);
  return [...set].sort();
}
