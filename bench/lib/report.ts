import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Goal, MetricSpec, RunResult, Scenario } from '../scenarios/kit.js';
import type { BenchOptions, ScenarioId } from './options.js';
import { RAISED_LIMITS, ROOT, type ServerKind } from './servers.js';
import { median, range } from './stats.js';

export interface RunRecord {
  scenario: ScenarioId;
  server: ServerKind;
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

export function summarize(records: readonly RunRecord[], scenarios: readonly Scenario[]): MetricSummary[] {
  return scenarios.flatMap((scenario) =>
    scenario.metrics.map((metric) => {
      const values = (server: ServerKind) =>
        records
          .filter((r) => r.scenario === scenario.id && r.server === server && r.result !== undefined)
          .map((r) => r.result!.metrics[metric.key] ?? Number.NaN);
      const ours = side(values('ours'));
      const reference = side(values('reference'));
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

const pct = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '-' : `${Math.round(value * 100)}%`);

export interface Report {
  date: string;
  machine: Machine;
  options: BenchOptions;
  oursRunsAs: string;
  scenarios: { id: ScenarioId; title: string; description: string; repetitions: number; servers: ServerKind[] }[];
  summaries: MetricSummary[];
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
    '',
    'What ran:',
    '',
    ...report.scenarios.map(
      (s) =>
        `- ${s.id} (${s.repetitions} run${s.repetitions === 1 ? '' : 's'} per server${s.servers.length === 1 ? `, ${s.servers[0]} only` : ''}): ${s.title}; ${s.description}`,
    ),
    '',
    renderMarkdown(report.summaries),
    '',
    'Load during the measured windows (medians; event-loop utilization, 1 = saturated): server ours / reference, busiest client process ours / reference:',
    '',
  );
  for (const s of report.scenarios) {
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
