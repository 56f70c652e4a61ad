// rotateSigningKey: an admin's rotation of the ES256 signing key (key-ring.ts).
import { Ctx, Mutation, Resolver } from 'type-graphql';
import { BadUserInputError } from '../../common/errors';
import type { GraphQLContext } from '../../common/request-context';
import { RequiresAssurance, RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import { AuditEventType } from '../audit/audit-event-type';
import { AuditService } from '../audit/audit.service';
import { KeyRing } from './key-ring';

@Resolver()
export class SigningKeyResolver {
  constructor(
    private readonly keyRing: KeyRing,
    private readonly audit: AuditService,
  ) {}

  @Mutation(() => Boolean, {
    description:
      'Scope roles:write, recent authentication at level 2. Signs with a new key now; old keys keep verifying until their tokens expire.',
  })
  @RequiresScopes(Scope.ROLES_WRITE)
  @RequiresAssurance(2)
  async rotateSigningKey(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    if (this.keyRing.algorithm !== 'ES256') {
      throw new BadUserInputError('JWT_ALGORITHM', [
        'tokens are signed with HS256 (JWT_SECRET): there is no key to rotate',
      ]);
    }
    const { user } = await ctx.auth();
    const kid = await this.keyRing.rotate(ctx.em);
    this.audit.record(ctx.em, ctx.client, {
      type: AuditEventType.SIGNING_KEY_ROTATED,
      actorUserId: user.id,
      detail: `now signing with ${kid}`,
    });
    await ctx.em.flush();
    return true;
  }
}
