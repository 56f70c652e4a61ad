// Stops the embedded PGlite instances of global-setup.
export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__PGLITE__ ?? []).map((i) => i.stop()));
}
