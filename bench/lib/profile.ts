import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and says where the time went:
 * by area (a package, a Node internal module, a file of ours), by function (self time),
 * and by function of ours including what it calls (inclusive time), which is what points
 * at a hot path in src/.
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  areas: { name: string; ms: number }[];
  selfTop: { name: string; ms: number }[];
  oursInclusive: { name: string; ms: number }[];
}

function areaOf(frame: CallFrame, root: string): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = file.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return file.startsWith(root) ? path.relative(root, file) : file;
}

function isOurs(area: string): boolean {
  return area.startsWith('src/') || area.startsWith('dist/');
}

export function summarizeProfile(file: string, root: string, top = 30): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const area = new Map(profile.nodes.map((node) => [node.id, areaOf(node.callFrame, root)]));
  const label = (node: ProfileNode) =>
    `${node.callFrame.functionName || '(anonymous)'} ${area.get(node.id)}${node.callFrame.url ? `:${node.callFrame.lineNumber + 1}` : ''}`;

  const areas = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  let gcMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(id);
    if (node === undefined) return;
    totalMs += ms;
    const name = node.callFrame.functionName;
    if (name === '(idle)') idleMs += ms;
    if (name === '(garbage collector)') gcMs += ms;
    const nodeArea = area.get(id)!;
    areas.set(nodeArea, (areas.get(nodeArea) ?? 0) + ms);
    self.set(label(node), (self.get(label(node)) ?? 0) + ms);
    // Inclusive: each function of ours on the stack once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!;
      if (!isOurs(area.get(at)!)) continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  });
  const ranked = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms }));
  return { totalMs, idleMs, gcMs, areas: ranked(areas), selfTop: ranked(self), oursInclusive: ranked(inclusive) };
}

export function renderProfileSummary(summary: ProfileSummary, title: string): string {
  const busy = summary.totalMs - summary.idleMs;
  const pct = (ms: number) => `${((ms / Math.max(busy, 1)) * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `# ${title}`,
    `profiled ${(summary.totalMs / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s (${((busy / Math.max(summary.totalMs, 1)) * 100).toFixed(0)}%), GC ${pct(summary.gcMs)} of busy`,
    '',
    'self time by area (% of busy):',
    ...summary.areas.filter((a) => a.name !== '(idle)').map((a) => `  ${pct(a.ms)}  ${a.name}`),
    '',
    'self time by function:',
    ...summary.selfTop.filter((f) => !f.name.startsWith('(idle)')).map((f) => `  ${pct(f.ms)}  ${f.name}`),
    '',
    'inclusive time of our functions (src/ or dist/):',
    ...summary.oursInclusive.map((f) => `  ${pct(f.ms)}  ${f.name}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes the summary of `file` beside it (`.txt` for `.cpuprofile`). */
export function writeProfileSummary(file: string, root: string, title: string): void {
  writeFileSync(file.replace(/\.cpuprofile$/, '.txt'), renderProfileSummary(summarizeProfile(file, root), title));
}
