/**
 * Waits, bounded, until `check` passes: for state outside the sockets that announces
 * nothing when it changes (Redis's pending list, PostgreSQL's activity, /ready). A
 * positive wait only: a negative check waits for a sentinel instead (client.ts).
 */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000, pollMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
