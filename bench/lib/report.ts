import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Goal, MetricSpec, RunResult, Scenario } from '../scenarios/kit.js';
import type { BenchOptions, ScenarioId } from './options.js';
import { RAISED_LIMITS, ROOT, type ServerKind } from './servers.js';
import { median, range } from './stats.js';
import { targetId } from './targets.js';

export interface RunRecord {
  scenario: ScenarioId;
  /** The target's id (bench/lib/targets.ts): `ours` and `reference`, or e.g. `ours-2nodes` with --nodes. */
  server: string;
  kind: ServerKind;
  nodes: number;
  rep: number;
  startedAt: string;
  seconds: number;
  result?: RunResult;
  error?: string;
  cpuProfile?: string;
}

export interface SideSummary {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export interface MetricSummary {
  scenario: ScenarioId;
  metric: MetricSpec;
  ours: SideSummary | undefined;
  reference: SideSummary | undefined;
  /** ours median / reference median. */
  ratio: number;
  goal: string;
  met: boolean | undefined;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  socketIo: string;
  express: string;
  filesystem: string;
  loadAverageAtStart: number[];
  openFileLimit: number;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(dir: string, openFileLimit: number): Machine {
  let filesystem = 'unknown';
  try {
    filesystem = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    // stat -f is Linux coreutils; elsewhere the file system stays unknown.
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    socketIo: packageVersion('socket.io'),
    express: packageVersion('express'),
    filesystem,
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    openFileLimit,
  };
}

const side = (values: number[]): SideSummary | undefined => {
  if (values.length === 0) return undefined;
  const [min, max] = range(values);
  return { median: median(values), min, max, values };
};

function goalText(metric: MetricSpec): string {
  const goal = metric.goal;
  if (goal === undefined) return '';
  const fixed = (v: number) => v.toFixed(2);
  const absolute = (v: number) => (metric.unit === 'x' ? fixed(v) : `${v} ${metric.unit}`);
  switch (goal.type) {
    case 'min-ratio':
      return `>= ${fixed(goal.value)}`;
    case 'max-ratio':
      return `<= ${fixed(goal.value)}`;
    case 'min':
      return `ours >= ${absolute(goal.value)}`;
    case 'max':
      return `ours < ${absolute(goal.value)}`;
  }
}

function goalMet(goal: Goal | undefined, ours: SideSummary | undefined, ratio: number): boolean | undefined {
  if (goal === undefined || ours === undefined) return undefined;
  switch (goal.type) {
    case 'min-ratio':
      return Number.isFinite(ratio) ? ratio >= goal.value : undefined;
    case 'max-ratio':
      return Number.isFinite(ratio) ? ratio <= goal.value : undefined;
    case 'min':
      return Number.isFinite(ours.median) ? ours.median >= goal.value : undefined;
    case 'max':
      return Number.isFinite(ours.median) ? ours.median < goal.value : undefined;
  }
}

/** One metric's values over the repetitions of one scenario on one target; diagnostics too, by key. */
function valuesOf(records: readonly RunRecord[], scenario: ScenarioId, server: string, key: string, from: 'metrics' | 'diagnostics' = 'metrics'): number[] {
  return records
    .filter((r) => r.scenario === scenario && r.server === server && r.result !== undefined)
    .map((r) => r.result![from][key] ?? Number.NaN);
}

export function summarize(records: readonly RunRecord[], scenarios: readonly Scenario[]): MetricSummary[] {
  return scenarios.flatMap((scenario) =>
    scenario.metrics.map((metric) => {
      const ours = side(valuesOf(records, scenario.id, targetId('ours', 1), metric.key));
      const reference = side(valuesOf(records, scenario.id, targetId('reference', 1), metric.key));
      const ratio = ours !== undefined && reference !== undefined ? ours.median / reference.median : Number.NaN;
      return { scenario: scenario.id, metric, ours, reference, ratio, goal: goalText(metric), met: goalMet(metric.goal, ours, ratio) };
    }),
  );
}

/** Medians of every diagnostic, per scenario and server. */
export function summarizeDiagnostics(records: readonly RunRecord[]): Record<string, Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, Record<string, number>>> = {};
  for (const record of records) {
    if (record.result === undefined) continue;
    const perServer = ((out[record.scenario] ??= {})[record.server] ??= {});
    for (const key of Object.keys(record.result.diagnostics)) {
      const values = records
        .filter((r) => r.scenario === record.scenario && r.server === record.server && r.result !== undefined)
        .map((r) => r.result!.diagnostics[key] ?? Number.NaN);
      perServer[key] = median(values);
    }
  }
  return out;
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case '/s':
      return Math.round(value).toLocaleString('en-US');
    case 'µs':
      return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
    case 'ms':
      return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
    case 'B':
      return Math.abs(value) >= 1024 ? `${(value / 1024).toFixed(1)} KiB` : `${Math.round(value)} B`;
    case '%':
      return `${value.toFixed(1)} %`;
    case 'x':
      return value.toFixed(2);
    default:
      return value.toPrecision(3);
  }
}

function cell(summary: SideSummary | undefined, unit: string): string {
  if (summary === undefined) return '-';
  if (summary.values.length === 1) return formatValue(summary.median, unit);
  return `${formatValue(summary.median, unit)} (${formatValue(summary.min, unit)} - ${formatValue(summary.max, unit)})`;
}

const verdict = (met: boolean | undefined) => (met === undefined ? '' : met ? 'met' : 'MISSED');

export function tableRows(summaries: readonly MetricSummary[]): string[][] {
  return summaries.map((s) => [
    s.scenario,
    s.metric.label,
    cell(s.ours, s.metric.unit),
    cell(s.reference, s.metric.unit),
    Number.isFinite(s.ratio) ? s.ratio.toFixed(2) : '-',
    s.goal,
    verdict(s.met),
  ]);
}

const HEADER = ['scenario', 'metric', 'ours: median (range)', 'reference: median (range)', 'ours/ref', 'goal', ''];

export function renderText(summaries: readonly MetricSummary[]): string {
  const rows = [HEADER, ...tableRows(summaries)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function renderMarkdown(summaries: readonly MetricSummary[]): string {
  const rows = [HEADER, HEADER.map(() => '---'), ...tableRows(summaries)];
  return rows.map((row) => `| ${row.join(' | ')} |`).join('\n');
}

/** --nodes N: one metric of ours as 1 node and as N nodes, and of the reference as N nodes. */
export interface NodesMetricSummary {
  scenario: ScenarioId;
  metric: MetricSpec;
  oneNode: SideSummary | undefined;
  cluster: SideSummary | undefined;
  reference: SideSummary | undefined;
  /** Ours at N nodes / ours at 1 node (medians). */
  scaling: number;
  /** Ours / reference, both at N nodes (medians). */
  versusReference: number;
}

const ratioOf = (a: SideSummary | undefined, b: SideSummary | undefined) => (a !== undefined && b !== undefined ? a.median / b.median : Number.NaN);

/**
 * The --nodes table: every metric of the scenarios, and one more row per scenario, the
 * cluster's Redis CPU per operation (a diagnostic: the work clustering moves out of the
 * nodes, which the nodes' CPU does not show).
 */
export function summarizeNodes(records: readonly RunRecord[], scenarios: readonly Scenario[], nodes: number): NodesMetricSummary[] {
  return scenarios.flatMap((scenario) => {
    const cpu = scenario.metrics.find((m) => m.key.startsWith('cpuPer'));
    const redis: MetricSpec[] =
      cpu === undefined ? [] : [{ key: 'redisCpuPerOperation', label: cpu.label.replace(/^server /, 'Redis '), unit: 'µs', better: 'lower' }];
    return [...scenario.metrics, ...redis].map((metric) => {
      // A diagnostic absent from a target (Redis CPU of the single node) shows as '-', not as n/a.
      const from = metric.key === 'redisCpuPerOperation' ? 'diagnostics' : 'metrics';
      const of = (kind: ServerKind, n: number) => {
        const values = valuesOf(records, scenario.id, targetId(kind, n), metric.key, from);
        return side(from === 'diagnostics' ? values.filter(Number.isFinite) : values);
      };
      const oneNode = of('ours', 1);
      const cluster = of('ours', nodes);
      const reference = of('reference', nodes);
      return { scenario: scenario.id, metric, oneNode, cluster, reference, scaling: ratioOf(cluster, oneNode), versusReference: ratioOf(cluster, reference) };
    });
  });
}

const ratioCell = (ratio: number) => (Number.isFinite(ratio) ? ratio.toFixed(2) : '-');

function nodesTable(summaries: readonly NodesMetricSummary[], nodes: number): string[][] {
  const header = ['scenario', 'metric', 'ours, 1 node', `ours, ${nodes} nodes`, `reference, ${nodes} nodes`, `ours ${nodes} nodes/1`, `ours/ref at ${nodes}`];
  return [
    header,
    ...summaries.map((s) => [
      s.scenario,
      s.metric.label,
      cell(s.oneNode, s.metric.unit),
      cell(s.cluster, s.metric.unit),
      cell(s.reference, s.metric.unit),
      ratioCell(s.scaling),
      ratioCell(s.versusReference),
    ]),
  ];
}

export function renderNodesText(summaries: readonly NodesMetricSummary[], nodes: number): string {
  const rows = nodesTable(summaries, nodes);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function renderNodesMarkdown(summaries: readonly NodesMetricSummary[], nodes: number): string {
  const [header, ...rows] = nodesTable(summaries, nodes);
  return [header!, header!.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

/**
 * What --nodes N measures, said wherever its figures appear: on a machine with few cores
 * the N nodes, Redis and the client processes share them, so throughput cannot grow N-fold.
 */
export function nodesCaveat(nodes: number, cores: number): string {
  return (
    `${nodes} nodes on ${cores} core${cores === 1 ? '' : 's'}: the nodes, Redis and the client processes share ${cores === 1 ? 'it' : 'them'}, ` +
    `so ${cores <= nodes ? `${cores} cores cap what ${nodes} nodes can show: ` : ''}throughput here says little about adding machines; ` +
    'server CPU per delivery/request (summed over the nodes, and Redis CPU beside it) is the figure that carries over.'
  );
}

const pct = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '-' : `${Math.round(value * 100)}%`);

export interface Report {
  date: string;
  machine: Machine;
  options: BenchOptions;
  oursRunsAs: string;
  /** Target ids (bench/lib/targets.ts) per scenario. */
  scenarios: { id: ScenarioId; title: string; description: string; repetitions: number; servers: string[] }[];
  /** Ours vs the reference, one process each (empty with --nodes). */
  summaries: MetricSummary[];
  /** With --nodes N: ours at N nodes vs 1, and vs the reference at N. */
  nodeSummaries?: NodesMetricSummary[];
  /** With --nodes N: how the clusters were joined (bench/lib/cluster.ts). */
  clusterSetup?: string;
  diagnostics: Record<string, Record<string, Record<string, number>>>;
  runs: RunRecord[];
  totalSeconds: number;
}

/** The dated section appended to bench/RESULTS.md. */
export function renderMarkdownSection(report: Report, jsonPath: string): string {
  const m = report.machine;
  const lines = [
    `## ${report.date}`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, socket.io ${m.socketIo}, express ${m.express}; ` +
      `chat files on ${m.filesystem}; load average at start ${m.loadAverageAtStart.join(' / ')}.`,
  ];
  if (report.options.note !== undefined) lines.push('', `Note: ${report.options.note}`);
  lines.push(
    '',
    `Ours: ${report.oursRunsAs}, NODE_ENV=production, JWT on every socket, API key on every request, metrics on, info logs to a file; ` +
      `rate limits raised (${Object.keys(RAISED_LIMITS).join(', ')} = 10,000,000) so that they do not cap throughput. ` +
      `Reference: bench/reference/server.ts. Each run starts a fresh server process; servers alternate; clients run in ` +
      `${report.options.workers} separate processes; all traffic on 127.0.0.1. Whole run: ${Math.round(report.totalSeconds)} s.`,
  );
  const nodes = report.options.nodes;
  if (report.nodeSummaries !== undefined && report.clusterSetup !== undefined) {
    lines.push('', `Clusters (--nodes ${nodes}): ${report.clusterSetup}`, '', `**${nodesCaveat(nodes, m.cores)}**`);
  }
  lines.push(
    '',
    'What ran:',
    '',
    ...report.scenarios.map(
      (s) =>
        `- ${s.id} (${s.repetitions} run${s.repetitions === 1 ? '' : 's'} per server${s.servers.length === 1 ? `, ${s.servers[0]} only` : ''}): ${s.title}; ${s.description}`,
    ),
    '',
    report.nodeSummaries !== undefined ? renderNodesMarkdown(report.nodeSummaries, nodes) : renderMarkdown(report.summaries),
    '',
  );
  if (report.nodeSummaries !== undefined) {
    lines.push(
      'Load during the measured windows (medians; event-loop utilization, 1 = saturated, the mean over a cluster\'s nodes; ' +
        'server CPU in % of one core, summed over the nodes): per target, server busy, server CPU, busiest client process:',
      '',
    );
    for (const s of report.scenarios) {
      const d = report.diagnostics[s.id];
      const parts = s.servers.map(
        (target) => `${target} ${pct(d?.[target]?.serverElu)}, ${Math.round(d?.[target]?.serverCpuPercent ?? Number.NaN)}%, ${pct(d?.[target]?.clientEluMax)}`,
      );
      lines.push(`- ${s.id}: ${parts.join('; ')}`);
    }
  } else {
    lines.push('Load during the measured windows (medians; event-loop utilization, 1 = saturated): server ours / reference, busiest client process ours / reference:', '');
  }
  for (const s of report.nodeSummaries !== undefined ? [] : report.scenarios) {
    const d = report.diagnostics[s.id];
    if (d?.ours?.serverElu === undefined && d?.reference?.serverElu === undefined) continue;
    lines.push(
      `- ${s.id}: server ${pct(d?.ours?.serverElu)} / ${pct(d?.reference?.serverElu)}, client ${pct(d?.ours?.clientEluMax)} / ${pct(d?.reference?.clientEluMax)}`,
    );
  }
  const notes = [...new Set(report.runs.flatMap((r) => [...(r.result?.notes ?? []).map((n) => `${r.scenario} ${r.server}: ${n}`), ...(r.error ? [`${r.scenario} ${r.server} #${r.rep} FAILED: ${r.error.split('\n')[0]}`] : [])]))];
  if (notes.length > 0) lines.push('', 'Run notes:', '', ...notes.slice(0, 30).map((n) => `- ${n}`));
  lines.push('', `Full data: ${path.relative(ROOT, jsonPath)} (bench/results/ is not committed).`, '');
  return lines.join('\n');
}

export function writeJson(file: string, report: Report): void {
  writeFileSync(file, `${JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`);
}

export function appendMarkdown(file: string, section: string): void {
  if (!existsSync(file)) writeFileSync(file, '# Benchmark results\n\nAppended by `npm run bench`; newest last.\n\n');
  appendFileSync(file, `\n${section}`);
}
