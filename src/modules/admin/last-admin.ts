// The one rule that keeps an installation administrable: some active ADMIN always remains. Every change that could
// remove the last one (demotion, deactivation, deletion) takes the lock first, so two admins removing each other at
// once cannot both succeed.
import type { EntityManager } from '@mikro-orm/postgresql';
import { BadUserInputError } from '../../common/errors';
import { Role } from '../../common/roles';
import { User } from '../users/user.entity';

/** Serialises changes that could remove the last admin, until `tx` ends. */
export async function lockAdmins(tx: EntityManager): Promise<void> {
  await tx.execute("select pg_advisory_xact_lock(hashtext('portcullis:admins'))");
}

/** BAD_USER_INPUT on `field` when no active ADMIN other than `exceptId` exists (call after lockAdmins). */
export async function assertAnotherActiveAdmin(
  em: EntityManager,
  exceptId: string,
  field: string,
  reason: string,
): Promise<void> {
  const others = await em.count(User, { id: { $ne: exceptId }, active: true, roles: { $contains: [Role.ADMIN] } });
  if (others === 0) throw new BadUserInputError(field, [reason]);
}
