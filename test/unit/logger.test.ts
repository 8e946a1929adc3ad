import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';

describe('createLogger', () => {
  it('names the node on every line, its children included, when given one', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'info', pretty: false, nodeId: 'eu-1', destination: sink });
    logger.info('one');
    logger.child({ module: 'http' }).warn('two');
    createLogger({ level: 'info', pretty: false, destination: sink }).info('three');
    expect(lines.map((line) => [line.msg, line.node, line.service])).toEqual([
      ['one', 'eu-1', 'realtime-notify-server'],
      ['two', 'eu-1', 'realtime-notify-server'],
      ['three', undefined, 'realtime-notify-server'],
    ]);
  });
});
