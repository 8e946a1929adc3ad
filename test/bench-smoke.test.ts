import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLUSTER_SCENARIO_IDS, SCENARIO_IDS } from '../bench/lib/options.js';
import { clusterSkipReason } from './support/cluster.js';
import { DATABASE_URL } from './support/postgres.js';
import { REDIS_URL } from './support/redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Features the reference server does not have: measured against ours alone. */
const OURS_ONLY = new Set(['inbox']);

interface SmokeReport {
  scenarios: { id: string; servers: string[] }[];
  runs: { scenario: string; server: string; error?: string; result?: { metrics: Record<string, unknown>; diagnostics: Record<string, unknown> } }[];
  nodeSummaries?: { scenario: string; metric: { key: string }; scaling: number | null; versusReference: number | null }[];
}

/** `npm run bench -- --smoke --quiet …` in a child process; the JSON report it wrote. */
async function runSmoke(dir: string, args: string[], env: Record<string, string> = {}): Promise<SmokeReport> {
  const json = path.join(dir, `smoke-${args.join('_').replace(/[^a-z0-9_]/gi, '') || 'default'}.json`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--quiet', '--json', json, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 110_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(killer);
  expect(code, output).toBe(0);
  return JSON.parse(await readFile(json, 'utf8')) as SmokeReport;
}

/** Every run of `servers` on `scenario` completed and reported finite numbers. */
function expectNumbers(report: SmokeReport, scenario: string, servers: readonly string[]): void {
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

/**
 * Keeps the benchmark harness from rotting: `npm run bench -- --smoke` runs every
 * scenario against both servers (ours alone where the reference lacks the feature, as
 * for the inbox) with tiny counts, and `--smoke --nodes 2` runs the cluster comparison
 * (on the machine's Redis and PostgreSQL). Only completion and numeric results are
 * checked; speed is measured by `npm run bench`, never asserted here.
 */
describe('benchmark harness (smoke)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const tempDir = async () => (dir ??= await mkdtemp(path.join(tmpdir(), 'bench-smoke-')));

  // Without --nodes nothing here needs Redis or PostgreSQL: the harness must run on a bare machine.
  it('runs every scenario against ours and the reference and reports numbers', async () => {
    const report = await runSmoke(await tempDir(), []);
    for (const scenario of SCENARIO_IDS) expectNumbers(report, scenario, OURS_ONLY.has(scenario) ? ['ours'] : ['ours', 'reference']);
  }, 120_000);

  it('runs notify and push against ours as 1 and 2 nodes and the reference as 2 nodes, all joined through Redis (--nodes 2)', async (ctx) => {
    // Skips with the reason on a machine without Redis or PostgreSQL; under CI=true it throws instead.
    const reason = await clusterSkipReason();
    if (reason !== undefined) return ctx.skip(reason);
    const report = await runSmoke(await tempDir(), ['--nodes', '2'], { BENCH_REDIS_URL: REDIS_URL, BENCH_DATABASE_URL: DATABASE_URL });
    for (const scenario of CLUSTER_SCENARIO_IDS) expectNumbers(report, scenario, ['ours', 'ours-2nodes', 'reference-2nodes']);
    for (const server of ['ours-2nodes', 'reference-2nodes']) {
      const push = report.runs.find((r) => r.scenario === 'push' && r.server === server)!.result!.diagnostics;
      expect(push.nodes, `${server}: nodes`).toBe(2);
      // Requests and sockets are spread over both nodes: without cross-node delivery about
      // half the pushes would reach no socket. (A run of notify that loses them fails by itself.)
      expect(push.deliveredRatio as number, `${server}: pushes delivered per request`).toBeGreaterThan(0.75);
    }
    // Latencies are whole milliseconds in autocannon's report: in a smoke run one side can
    // be 0 ms, and a ratio to it is not a number. Throughput and CPU ratios must be.
    const ratios = (report.nodeSummaries ?? []).filter((row) => row.metric.key !== 'redisCpuPerOperation' && !/^p\d+Ms$/.test(row.metric.key));
    expect(ratios.length).toBeGreaterThan(0);
    for (const row of ratios) {
      expect(Number.isFinite(row.scaling) && Number.isFinite(row.versusReference), `${row.scenario} ${row.metric.key}: ratios`).toBe(true);
    }
  }, 120_000);
});
