import fc from 'fast-check';

/**
 * How the reliability suite is sized. `npm test` runs the short variants; `npm run
 * reliability` sets RELIABILITY_LONG=1 for the long ones. FUZZ_RUNS, FUZZ_SEED and
 * FUZZ_PATH override a fuzz run (FUZZ_SEED and FUZZ_PATH replay a reported failure);
 * FUZZ_SHRINK=1 shrinks a failure to a smaller counterexample (slow against a server).
 */
export const LONG = process.env.RELIABILITY_LONG === '1';

/** The seed of the short runs (any fixed value; changing it explores another sample). */
const SHORT_RUN_SEED = 20_261_201;

/** Property runs: `short` under npm test, `long` under npm run reliability, or FUZZ_RUNS. */
export function fuzzRuns(short: number, long: number): number {
  const given = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(given) && given > 0 ? given : LONG ? long : short;
}

/**
 * Runs an async property with a reproducible seed, starting with `examples` (inputs every
 * run must cover, such as the shapes known attacks took) before the generated ones. A
 * failure is thrown with fast-check's report (seed, path, counterexample) and the command
 * line that replays it.
 */
export async function checkProperty<Ts>(testFile: string, property: fc.IAsyncProperty<Ts>, numRuns: number, examples: Ts[] = []): Promise<void> {
  const given = Number(process.env.FUZZ_SEED);
  // npm test (and so CI) explores one fixed sample, so a red run always replays; the long
  // runs draw a new seed each time to explore further.
  const seed = Number.isInteger(given) ? given : LONG ? (Date.now() ^ (Math.random() * 0x1_0000_0000)) | 0 : SHORT_RUN_SEED;
  const path = process.env.FUZZ_PATH;
  const details = await fc.check(property, {
    seed,
    numRuns,
    examples,
    ...(path !== undefined && path !== '' ? { path } : {}),
    // Shrinking re-runs batches against a live server whose state the failure may have
    // changed; without it the first failing input is reported as generated.
    endOnFailure: process.env.FUZZ_SHRINK !== '1',
  });
  if (!details.failed) return;
  const replay = `FUZZ_SEED=${details.seed}${details.counterexamplePath ? ` FUZZ_PATH=${details.counterexamplePath}` : ''}`;
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(`${cause}\n\n${fc.defaultReportMessage(details) ?? 'property failed'}\n\nReplay: ${replay} npx vitest run ${testFile}`);
}
