/**
 * The soak of `npm run reliability`: the benchmark's soak scenario (10,000 clients held
 * with churn, relays, broadcasts and pushes; see bench/scenarios/soak.ts) against this
 * server only, for 10 minutes unless told otherwise, without an entry in
 * bench/RESULTS.md. The benchmark only reports; this fails the run when the server did
 * not hold: the run errored, a reconnection or a POST failed, or the post-GC heap
 * grew by more than the scenario's goal (5 %) over the run.
 *
 *   node --import tsx test/reliability/support/soak.ts [bench options, e.g. --soak-duration 60 --soak-clients 500]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../../../bench/lib/report.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const HEAP_GROWTH_LIMIT_PERCENT = 5;

async function main(): Promise<number> {
  const extra = process.argv.slice(2);
  const dir = await mkdtemp(path.join(tmpdir(), 'soak-'));
  const json = path.join(dir, 'soak.json');
  const args = ['--import', 'tsx', 'bench/run.ts', '--scenarios', 'soak', '--servers', 'ours', '--no-append', '--json', json];
  // --soak-full would override a --soak-duration given here.
  if (!extra.includes('--soak-duration')) args.push('--soak-full');
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [...args, ...extra], { cwd: ROOT, stdio: 'inherit' });
    child.once('exit', resolve);
  });
  try {
    if (code !== 0) return fail([`the soak run exited with ${code}`]);
    const report = JSON.parse(await readFile(json, 'utf8')) as Report;
    const problems: string[] = [];
    for (const run of report.runs) {
      if (run.error !== undefined || run.result === undefined) {
        problems.push(`run ${run.rep} failed: ${run.error?.split('\n')[0] ?? 'no result'}`);
        continue;
      }
      const { metrics, diagnostics: d } = run.result;
      const heap = metrics.heapGrowthPercent ?? Number.NaN;
      process.stdout.write(
        `soak #${run.rep}: ${run.seconds.toFixed(0)} s, heap trend ${heap.toFixed(2)} % (${(d.heapFirstMB ?? 0).toFixed(1)} -> ${(d.heapLastMB ?? 0).toFixed(1)} MB), ` +
          `${d.churned} reconnects (${d.reconnectFailures} failed), ${d.relaysSent} relays (${d.relayErrors} unanswered or refused), ` +
          `${d.posted} POSTs (${d.postFailures} failed), ${d.connectedAtEnd} connected at the end\n`,
      );
      if (!(heap <= HEAP_GROWTH_LIMIT_PERCENT)) problems.push(`post-GC heap trend ${heap.toFixed(2)} % is above ${HEAP_GROWTH_LIMIT_PERCENT} %`);
      // Not relayErrors: they include relays cut short when the churn closes their own socket.
      for (const key of ['reconnectFailures', 'postFailures'] as const) {
        if ((d[key] ?? 0) > 0) problems.push(`${key}: ${d[key]}`);
      }
    }
    return problems.length > 0 ? fail(problems) : 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function fail(problems: string[]): number {
  process.stderr.write(`soak failed:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return 1;
}

process.exitCode = await main();
