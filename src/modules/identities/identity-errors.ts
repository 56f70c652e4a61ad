// The one error of social sign-in that is not a contract code of its own: the provider could not be reached.
import { ErrorCode, PortcullisError } from '../../common/errors';

/** Discovery, the token endpoint or the JWKS did not answer (or answered nonsense): try again later. */
export class ProviderUnavailableError extends PortcullisError {
  constructor(
    readonly provider: string,
    override readonly cause?: unknown,
  ) {
    super(ErrorCode.INTERNAL_SERVER_ERROR, `The identity provider "${provider}" is not reachable; try again later`, {
      provider,
    });
  }
}
