// Every column that holds values sealed with the data keys (common/sealing.ts), listed once for
// `npm run keys:reencrypt`, which moves them to the newest key.
export interface SealedColumn {
  readonly table: string;
  readonly column: string;
  /** The row's primary key column. */
  readonly id: string;
}

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'mail_outbox', column: 'payload', id: 'id' },
  { table: 'oauth_flows', column: 'provider_verifier', id: 'id' },
  { table: 'mfa_factors', column: 'secret', id: 'id' },
  { table: 'signing_keys', column: 'private_key', id: 'kid' },
];
