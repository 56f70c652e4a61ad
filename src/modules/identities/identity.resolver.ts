// Social sign-in, linking and the user's identities: each one call into SocialSignInService or IdentityService.
import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ForbiddenError } from '../../common/errors';
import { RequiresScopes } from '../../common/requires-scopes';
import { Scope } from '../../common/roles';
import type { GraphQLContext } from '../../common/request-context';
import { checkUuid } from '../../common/validation';
import { AuthPayload } from '../auth/auth.types';
import { deliver } from '../auth/deliver-tokens';
import { UserView } from '../users/user.types';
import { FlowPurpose } from './oauth-flow.entity';
import { IdentityService } from './identity.service';
import { SocialSignInService } from './social-sign-in.service';
import {
  CompleteSocialArgs,
  IdentityProviderView,
  IdentityView,
  IdTokenArgs,
  SocialSignInStart,
  StartSocialArgs,
  toIdentityView,
} from './identity.types';

@Resolver(() => UserView)
export class IdentityResolver {
  constructor(
    private readonly social: SocialSignInService,
    private readonly identities: IdentityService,
  ) {}

  @Query(() => [IdentityProviderView], { description: 'Public. The providers a sign-in page can offer.' })
  identityProviders(): IdentityProviderView[] {
    return this.social.providers.map(({ id, displayName }) => ({ id, displayName }));
  }

  @Mutation(() => SocialSignInStart, {
    description:
      'Public. Begins a sign-in with `provider`. `redirectUri` must be listed in OAUTH_REDIRECT_URIS;\n' +
      "`codeChallenge` is the app's own PKCE S256 challenge (base64url of SHA-256 of its verifier).\n" +
      'After the provider, the browser lands on `redirectUri?code=…` (or `?error=…`).',
  })
  startSocialSignIn(
    @Args(() => StartSocialArgs) { provider, redirectUri, codeChallenge }: StartSocialArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SocialSignInStart> {
    return this.social.start(ctx.em, FlowPurpose.SIGN_IN, provider, redirectUri, codeChallenge, null);
  }

  @Mutation(() => AuthPayload, {
    description:
      "Public. Exchanges the one-time `code` from the redirect, with the app's PKCE verifier, for a sign-in.",
  })
  async completeSocialSignIn(
    @Args(() => CompleteSocialArgs) { code, codeVerifier }: CompleteSocialArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return deliver(ctx, await this.social.complete(ctx.em, code, codeVerifier, ctx.client));
  }

  @Mutation(() => AuthPayload, {
    description:
      "Public. For native apps: signs in with an ID token from the provider's own SDK. `nonce` is the raw\n" +
      "nonce whose SHA-256 (hex or base64url) the token's `nonce` claim holds; required unless the provider\n" +
      'is configured to allow tokens without one.',
  })
  async signInWithIdToken(
    @Args(() => IdTokenArgs) { provider, idToken, nonce }: IdTokenArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return deliver(ctx, await this.social.signInWithIdToken(ctx.em, provider, idToken, nonce, ctx.client));
  }

  @Mutation(() => SocialSignInStart, {
    description:
      'Scope self:write. Like startSocialSignIn, but completing it links the identity to the signed-in user.',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  async startSocialLink(
    @Args(() => StartSocialArgs) { provider, redirectUri, codeChallenge }: StartSocialArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SocialSignInStart> {
    const { user } = await ctx.auth();
    return this.social.start(ctx.em, FlowPurpose.LINK, provider, redirectUri, codeChallenge, user.id);
  }

  @Mutation(() => IdentityView, { description: 'Scope self:write. Finishes a link begun by the same user.' })
  @RequiresScopes(Scope.SELF_WRITE)
  async completeSocialLink(
    @Args(() => CompleteSocialArgs) { code, codeVerifier }: CompleteSocialArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<IdentityView> {
    return toIdentityView(await this.social.completeLink(ctx.em, await ctx.auth(), code, codeVerifier));
  }

  @Mutation(() => Boolean, {
    description: 'Scope self:write. Refused (BAD_USER_INPUT) when it would leave the account with no way to sign in.',
  })
  @RequiresScopes(Scope.SELF_WRITE)
  async unlinkIdentity(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    const { user } = await ctx.auth();
    return this.identities.unlink(ctx.em, user.id, checkUuid(id, 'id'), ctx.client);
  }

  @FieldResolver(() => [IdentityView], {
    name: 'identities',
    description: "Linked external identities. The user's own, or scope users:read.",
  })
  async identitiesOf(@Root() user: UserView, @Ctx() ctx: GraphQLContext): Promise<IdentityView[]> {
    await ownOrUsersRead(ctx, user.id);
    return (await this.identities.list(ctx.em, user.id)).map(toIdentityView);
  }

  @FieldResolver(() => Boolean, {
    description: 'Whether the account has a password (accounts created by a provider have none until resetPassword).',
  })
  async hasPassword(@Root() user: UserView, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    await ownOrUsersRead(ctx, user.id);
    return this.identities.hasPassword(ctx.em, user.id);
  }
}

/** Fields of a User that only its owner, or a caller with users:read, may read. */
async function ownOrUsersRead(ctx: GraphQLContext, userId: string): Promise<void> {
  const principal = await ctx.auth();
  if (principal.user.id !== userId && !principal.scopes.includes(Scope.USERS_READ)) {
    throw new ForbiddenError([[Scope.USERS_READ]]);
  }
}
