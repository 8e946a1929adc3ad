/**
 * Where a server's CPU went, from .cpuprofile files (`npm run bench -- --profile` writes
 * one per run, of the measured window, next to the JSON results).
 *
 *   node --import tsx bench/profile-summary.ts A.cpuprofile              one profile
 *   node --import tsx bench/profile-summary.ts A.cpuprofile B.cpuprofile [--ops A_OPS,B_OPS]
 *
 * With two profiles (say ours and the reference in the same scenario) it lines up the
 * busy time by area; with --ops (operations done in each window, e.g. requests) it gives
 * microseconds per operation, which is what to compare when the two windows differ.
 */
import { parseArgs } from 'node:util';
import { renderProfileSummary, summarizeProfile } from './lib/profile.js';
import { ROOT } from './lib/servers.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { ops: { type: 'string' }, top: { type: 'string' } } });
const top = Number(values.top ?? 25);
if (positionals.length === 1) {
  console.log(renderProfileSummary(summarizeProfile(positionals[0]!, ROOT, top), positionals[0]!));
} else if (positionals.length === 2) {
  const [a, b] = positionals.map((file) => summarizeProfile(file, ROOT, 200));
  const ops = values.ops?.split(',').map(Number);
  const unit = ops ? 'µs/op' : 'ms';
  const scale = (ms: number, i: number) => (ops ? (ms * 1000) / ops[i]! : ms);
  const areas = new Map<string, [number, number]>();
  a!.areas.forEach(({ name, ms }) => areas.set(name, [ms, 0]));
  b!.areas.forEach(({ name, ms }) => areas.set(name, [areas.get(name)?.[0] ?? 0, ms]));
  areas.delete('(idle)');
  const busy = [a!.totalMs - a!.idleMs, b!.totalMs - b!.idleMs];
  console.log(`busy: ${scale(busy[0]!, 0).toFixed(1)} vs ${scale(busy[1]!, 1).toFixed(1)} ${unit}  (${positionals[0]} vs ${positionals[1]})\n`);
  console.log(`${'A'.padStart(9)} ${'B'.padStart(9)} ${'A-B'.padStart(9)}  area (${unit})`);
  for (const [name, [x, y]] of [...areas.entries()].sort((p, q) => scale(q[1][0], 0) - scale(q[1][1], 1) - (scale(p[1][0], 0) - scale(p[1][1], 1))).slice(0, top)) {
    const sa = scale(x, 0);
    const sb = scale(y, 1);
    console.log(`${sa.toFixed(1).padStart(9)} ${sb.toFixed(1).padStart(9)} ${(sa - sb).toFixed(1).padStart(9)}  ${name}`);
  }
} else {
  console.error('usage: node --import tsx bench/profile-summary.ts A.cpuprofile [B.cpuprofile] [--ops A_OPS,B_OPS] [--top N]');
  process.exit(2);
}
