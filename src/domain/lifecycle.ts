/**
 * The server's own state: when it started, whether it is draining, and the readiness
 * checks its parts registered (a store that cannot write makes the node unready).
 */
export interface Lifecycle {
  readonly startedAt: number;
  readonly draining: boolean;
  startDraining(): void;
  addReadinessCheck(name: string, check: () => Promise<boolean> | boolean): void;
  /** Runs every readiness check; a check that throws counts as failing. */
  readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  uptimeSeconds(): number;
}

export function createLifecycle(now: () => number = Date.now): Lifecycle {
  const startedAt = now();
  let draining = false;
  const checks = new Map<string, () => Promise<boolean> | boolean>();
  return {
    startedAt,
    get draining() {
      return draining;
    },
    startDraining() {
      draining = true;
    },
    addReadinessCheck(name, check) {
      checks.set(name, check);
    },
    async readiness() {
      const results: Record<string, boolean> = { accepting: !draining };
      for (const [name, check] of checks) {
        try {
          results[name] = await check();
        } catch {
          // A check that cannot even answer is a failing check; the caller reports it.
          results[name] = false;
        }
      }
      return { ready: Object.values(results).every(Boolean), checks: results };
    },
    uptimeSeconds() {
      return Math.floor((now() - startedAt) / 1000);
    },
  };
}
