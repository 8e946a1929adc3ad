import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIO_IDS } from '../bench/lib/options.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Features the reference server does not have: measured against ours alone. */
const OURS_ONLY = new Set(['inbox']);

interface SmokeReport {
  scenarios: { id: string; servers: string[] }[];
  runs: { scenario: string; server: string; error?: string; result?: { metrics: Record<string, unknown> } }[];
}

/**
 * Keeps the benchmark harness from rotting: `npm run bench -- --smoke` runs every
 * scenario against both servers (ours alone where the reference lacks the feature, as
 * for the inbox) with tiny counts. Only completion and numeric results
 * are checked; speed is measured by `npm run bench`, never asserted here.
 */
describe('benchmark harness (smoke)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('runs every scenario against ours and the reference and reports numbers', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
    const json = path.join(dir, 'smoke.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--quiet', '--json', json], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    expect(code, output).toBe(0);

    const report = JSON.parse(await readFile(json, 'utf8')) as SmokeReport;
    for (const scenario of SCENARIO_IDS) {
      const servers = OURS_ONLY.has(scenario) ? ['ours'] : ['ours', 'reference'];
      expect(report.scenarios.find((s) => s.id === scenario)?.servers, `${scenario}: servers`).toEqual(servers);
      for (const server of servers) {
        const run = report.runs.find((r) => r.scenario === scenario && r.server === server);
        expect(run, `${scenario}/${server} did not run`).toBeDefined();
        expect(run?.error, `${scenario}/${server} failed`).toBeUndefined();
        const metrics = Object.entries(run?.result?.metrics ?? {});
        expect(metrics.length, `${scenario}/${server} reported no metric`).toBeGreaterThan(0);
        for (const [name, value] of metrics) {
          expect(typeof value === 'number' && Number.isFinite(value), `${scenario}/${server} ${name} = ${String(value)}`).toBe(true);
        }
      }
    }
  }, 120_000);
});
