import { readFileSync } from 'node:fs';

/**
 * Compares two V8 heap snapshots (what v8.writeHeapSnapshot writes): self size and count
 * by constructor (objects), function name (closures) or node type (strings, arrays,
 * code…), what was added between them, divided by the number of connections added. It
 * answers "what does one more connected client keep alive", by kind of object.
 */
interface HeapSnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

type Totals = Map<string, { count: number; bytes: number }>;

function totalsOf(file: string): Totals {
  const data = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotFile;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals: Totals = new Map();
  for (let i = 0; i < data.nodes.length; i += stride) {
    const type = types[data.nodes[i + typeAt]!] ?? 'unknown';
    const name = data.strings[data.nodes[i + nameAt]!] ?? '';
    // Objects by constructor, closures by function; strings and the rest by kind only.
    const key = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name.slice(0, 60)}` : `(${type})`;
    const entry = totals.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += data.nodes[i + sizeAt]!;
    totals.set(key, entry);
  }
  return totals;
}

export function renderHeapDiff(before: string, after: string, connections: number, title: string, top = 30): string {
  const a = totalsOf(before);
  const b = totalsOf(after);
  const rows = [...b.entries()]
    .map(([key, { count, bytes }]) => ({ key, count: count - (a.get(key)?.count ?? 0), bytes: bytes - (a.get(key)?.bytes ?? 0) }))
    .filter((row) => row.bytes > 0)
    .sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  const lines = [
    `# ${title}`,
    `added between the snapshots: ${(total / 2 ** 20).toFixed(1)} MiB, ${Math.round(total / connections)} B per connection (${connections} connections)`,
    '',
    '  B/conn  objects/conn  what',
    ...rows.slice(0, top).map(
      (row) => `${String(Math.round(row.bytes / connections)).padStart(8)}  ${(row.count / connections).toFixed(1).padStart(12)}  ${row.key}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
