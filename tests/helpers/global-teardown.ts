// Stops the embedded PGlite instances of global-setup, or drops its template database.
import { dropDatabase } from './test-database';

export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__PGLITE__ ?? []).map((i) => i.stop()));
  const { TEST_DATABASE_URL, TEST_TEMPLATE_DATABASE } = process.env;
  if (TEST_DATABASE_URL && TEST_TEMPLATE_DATABASE) await dropDatabase(TEST_DATABASE_URL, TEST_TEMPLATE_DATABASE);
}
