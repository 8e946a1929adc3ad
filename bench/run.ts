/**
 * npm run bench -- [options]   (see --help and the README's Benchmarks section)
 *
 * Runs every chosen scenario against ours and the bare reference, alternating which goes
 * first, with a fresh server process per run and the clients in separate processes;
 * prints medians, ranges and ours/reference ratios; writes the JSON results and appends a
 * dated summary to bench/RESULTS.md. With --nodes N the servers are clusters of N
 * processes (bench/lib/cluster.ts), compared with ours as one node.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DATABASE_URL, BENCH_REDIS_URL, clusterServicesUnavailable } from './lib/cluster.js';
import { parseOptions, USAGE, type BenchOptions } from './lib/options.js';
import { openFileLimit } from './lib/processes.js';
import { writeProfileSummary } from './lib/profile.js';
import { now } from './lib/protocol.js';
import {
  appendMarkdown,
  describeMachine,
  formatValue,
  nodesCaveat,
  renderMarkdownSection,
  renderNodesText,
  renderText,
  summarize,
  summarizeDiagnostics,
  summarizeNodes,
  writeJson,
  type Report,
  type RunRecord,
} from './lib/report.js';
import { prepareServers, ROOT, type RunningServer } from './lib/servers.js';
import { startTarget, targetsFor, type Target } from './lib/targets.js';
import { WorkerPool } from './lib/workers.js';
import { connectScenario } from './scenarios/connect.js';
import { inboxScenario } from './scenarios/inbox.js';
import type { Scenario } from './scenarios/kit.js';
import { memoryScenario } from './scenarios/memory.js';
import { notifyScenario } from './scenarios/notify.js';
import { pushScenario } from './scenarios/push.js';
import { batchScenario } from './scenarios/batch.js';
import { soakScenario } from './scenarios/soak.js';
import { durableScenario, relayScenario } from './scenarios/traffic.js';

const SCENARIOS: readonly Scenario[] = [connectScenario, memoryScenario, notifyScenario, pushScenario, batchScenario, inboxScenario, relayScenario, durableScenario, soakScenario];

/** An upper bound on one run, so that a server never outlives a run that went wrong by much. */
function runBoundMs(scenario: Scenario, options: BenchOptions): number {
  const traffic =
    scenario.id === 'soak'
      ? options.soakDuration
      : scenario.id === 'inbox'
        ? // Warm-up and push windows, then fan-outs and filling inboxes at a generous 0.5 s per 1,000 notifications.
          2 * (options.duration + options.warmup * 3) + (2 * options.inboxFanouts + (options.inboxUnread * options.inboxConnectClients) / 1000) * 0.5
        : options.duration + options.warmup * 2;
  return (traffic + 120 + scenario.sockets(options) / 50) * 1000;
}

async function main(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const opts = options;
  const log = (message: string) => {
    if (!opts.quiet) console.log(message);
  };
  const started = now();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = path.join(ROOT, 'bench', 'results');
  const runDir = path.join(resultsDir, `run-${stamp}`);
  mkdirSync(runDir, { recursive: true });
  const jsonPath = path.resolve(opts.json ?? path.join(resultsDir, `bench-${stamp}.json`));
  const machine = describeMachine(runDir, openFileLimit());
  const targets = targetsFor(opts);
  const idWidth = Math.max(9, ...targets.map((target) => target.id.length));
  const serversOf = (scenario: Scenario): Target[] => targets.filter((target) => scenario.servers?.includes(target.kind) ?? true);
  const scenarios = SCENARIOS.filter((s) => opts.scenarios.includes(s.id) && serversOf(s).length > 0);
  for (const skipped of SCENARIOS.filter((s) => opts.scenarios.includes(s.id) && serversOf(s).length === 0)) {
    log(`skipping ${skipped.id}: it runs against ${skipped.servers?.join(', ')} only`);
  }
  const maxSockets = Math.max(...scenarios.map((s) => s.sockets(opts)), opts.warmupConnections);

  log(`machine: ${machine.cpu} x ${machine.cores}, load ${machine.loadAverageAtStart.join(' ')}; run files in ${path.relative(ROOT, runDir)}`);
  let clusterSetup: string | undefined;
  if (opts.nodes > 1) {
    const unavailable = await clusterServicesUnavailable();
    if (unavailable !== undefined) {
      console.error(unavailable);
      rmSync(runDir, { recursive: true, force: true });
      return 2;
    }
    clusterSetup =
      `${opts.nodes} processes per cluster, each on a port of its own, sharing the Redis at ${new URL(BENCH_REDIS_URL).host} under a key prefix per cluster. ` +
      `Ours: REDIS_URL (cluster mode, @socket.io/redis-streams-adapter) and DATABASE_URL (a fresh PostgreSQL schema per cluster at ${new URL(BENCH_DATABASE_URL).host}); ` +
      `ours as 1 node: as without --nodes (no Redis, files). Reference: the same adapter on a node-redis 5 client, its README's settings. ` +
      `Sockets connect to the nodes in turn and HTTP requests (/notify posts, autocannon's connections) go to them in turn, so about ` +
      `${opts.nodes - 1}/${opts.nodes} of the recipients of a delivery are on another node than the request. Server CPU is summed over the nodes. ` +
      `Redis CPU is the whole Redis server's (INFO cpu) during the window: whatever else uses that Redis meanwhile is counted too.`;
    console.log(`--nodes ${opts.nodes}: ${nodesCaveat(opts.nodes, machine.cores)}`);
  }
  const prepared = await prepareServers({ buildDir: path.join(runDir, 'build'), oursFrom: opts.oursFrom, oursEntry: opts.oursEntry, log });
  const planMs = scenarios.reduce((sum, s) => sum + s.repetitions(opts) * serversOf(s).length * runBoundMs(s, opts), 0);
  const workers = await WorkerPool.start(opts.workers, {
    maxLifetimeMs: planMs + 300_000,
    openFiles: Math.ceil(maxSockets / opts.workers) + 1024,
  });

  /** With --reuse-servers, the one server (or cluster) of each target, started on first use. */
  const shared = new Map<string, RunningServer>();

  async function serverFor(scenario: Scenario, target: Target, label: string): Promise<RunningServer> {
    const reused = shared.get(target.id);
    if (reused !== undefined) return reused;
    const server = await startTarget(target, prepared, {
      runDir,
      label: opts.reuseServers ? `${target.id}-shared` : label,
      openFiles: (opts.reuseServers ? maxSockets : scenario.sockets(opts)) + 1024,
      extraEnv: opts.oursEnv,
      maxLifetimeMs: opts.reuseServers ? planMs + 300_000 : runBoundMs(scenario, opts),
    });
    if (opts.reuseServers) shared.set(target.id, server);
    return server;
  }

  async function runOnce(scenario: Scenario, target: Target, rep: number): Promise<RunRecord> {
    const { kind } = target;
    const label = `${scenario.id}-${target.id}-${rep}`;
    const record: RunRecord = {
      scenario: scenario.id,
      server: target.id,
      kind,
      nodes: target.nodes,
      rep,
      startedAt: new Date().toISOString(),
      seconds: 0,
    };
    const t0 = now();
    const profileFile = opts.profile ? path.join(runDir, 'profiles', `${label}.cpuprofile`) : undefined;
    if (profileFile !== undefined) mkdirSync(path.dirname(profileFile), { recursive: true });
    let server: RunningServer | undefined;
    try {
      server = await serverFor(scenario, target, label);
      record.result = await scenario.run({ kind, server, workers, options: opts, runDir, label, rep, profileFile, log });
    } catch (err) {
      record.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      // Leave no sockets behind for the next run.
      await workers.all({ cmd: 'close-all', graceful: false }).catch(() => undefined);
    } finally {
      if (!opts.reuseServers) {
        const code = await server?.stop();
        if (code !== undefined && code !== 0 && code !== null && record.error === undefined) record.error = `${target.id} server exited with ${code}`;
      }
    }
    if (profileFile !== undefined && existsSync(profileFile)) {
      writeProfileSummary(profileFile, ROOT, `${label}: the measured window (${profileFile})`);
      record.cpuProfile = profileFile;
    }
    record.seconds = (now() - t0) / 1000;
    if (record.result !== undefined) {
      const values = scenario.metrics.map((m) => `${m.label} ${formatValue(record.result!.metrics[m.key] ?? Number.NaN, m.unit)}`);
      const d = record.result.diagnostics;
      const load =
        d.serverElu !== undefined ? ` [server busy ${Math.round(d.serverElu * 100)}%, busiest client ${Math.round((d.clientEluMax ?? 0) * 100)}%]` : '';
      log(`  ${target.id.padEnd(idWidth)} #${rep}: ${values.join(', ')}${load} (${record.seconds.toFixed(1)} s)`);
      for (const note of record.result.notes) log(`      note: ${note}`);
    } else {
      log(`  ${target.id.padEnd(idWidth)} #${rep}: FAILED ${record.error?.split('\n').slice(0, 3).join(' | ')}`);
    }
    return record;
  }

  const records: RunRecord[] = [];
  try {
    for (const scenario of scenarios) {
      const reps = scenario.repetitions(opts);
      log(`\n== ${scenario.id}: ${scenario.title} (${scenario.describe(opts)})`);
      for (let rep = 1; rep <= reps; rep++) {
        // Alternate which server goes first, so that drift in the machine's load favours neither.
        const order = rep % 2 === 1 ? serversOf(scenario) : serversOf(scenario).reverse();
        for (const target of order) records.push(await runOnce(scenario, target, rep));
      }
    }
  } finally {
    await workers.close();
    for (const server of shared.values()) await server.stop();
  }

  const nodeSummaries = opts.nodes > 1 ? summarizeNodes(records, scenarios, opts.nodes) : undefined;
  const summaries = nodeSummaries === undefined ? summarize(records, scenarios) : [];
  const report: Report = {
    date: new Date().toISOString(),
    machine,
    options: opts,
    oursRunsAs: prepared.ours.description,
    scenarios: scenarios.map((s) => ({
      id: s.id,
      title: s.title,
      description: s.describe(opts),
      repetitions: s.repetitions(opts),
      servers: serversOf(s).map((target) => target.id),
    })),
    summaries,
    ...(nodeSummaries !== undefined ? { nodeSummaries, clusterSetup } : {}),
    diagnostics: summarizeDiagnostics(records),
    runs: records,
    totalSeconds: (now() - started) / 1000,
  };
  mkdirSync(path.dirname(jsonPath), { recursive: true });
  writeJson(jsonPath, report);
  if (nodeSummaries !== undefined) console.log(`\n${nodesCaveat(opts.nodes, machine.cores)}\n${renderNodesText(nodeSummaries, opts.nodes)}\n`);
  else console.log(`\n${renderText(summaries)}\n`);
  console.log(`JSON: ${path.relative(process.cwd(), jsonPath)}`);
  if (opts.append) {
    const file = path.resolve(opts.results ?? path.join(ROOT, 'bench', 'RESULTS.md'));
    appendMarkdown(file, renderMarkdownSection(report, jsonPath));
    console.log(`appended to ${path.relative(process.cwd(), file)}`);
  }
  // Server logs and chat files of a passing run are of no further use; profiles and snapshots are kept.
  const failed = records.filter((r) => r.error !== undefined);
  if (failed.length === 0 && !opts.profile && !opts.heapSnapshot) rmSync(runDir, { recursive: true, force: true });
  else console.log(`run files kept in ${path.relative(process.cwd(), runDir)}`);
  if (failed.length > 0) console.error(`${failed.length} run(s) failed: ${failed.map((r) => `${r.scenario}/${r.server}#${r.rep}`).join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
