// A DATABASE_URL whose database does not exist: refused with one line, since creating it is an explicit step
// (`npm run db:create`), never a side effect of a typo.
import { OperatorError } from '../config/config-helpers';

/** "host:port" of a postgres:// URL, for messages (never its credentials). */
export function serverOf(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return `${url.hostname || 'localhost'}:${url.port || '5432'}`;
}

export class MissingDatabaseError extends OperatorError {
  constructor(
    readonly database: string,
    where: string,
  ) {
    super(
      `database "${database}" does not exist on ${where}; create it with npm run db:create (or createdb ${database})`,
    );
    this.name = 'MissingDatabaseError';
  }
}
