import type { TestSocket } from '../../support/client.js';

// Far above the ids socket.io-client gives its own acks, so the two never meet.
let nextAckId = 1_000_000_000;

interface EnginePacket {
  type: string;
  data?: unknown;
}

/**
 * Emits `event` as a hand-written Socket.IO EVENT packet on the real client's connection,
 * for payloads socket.io-client itself refuses to encode (JSON nested 10,000 levels deep
 * overflows its encoder's stack). `argsJson` are the arguments as JSON text. With
 * `withAck`, resolves with the ack's arguments, or rejects after `timeoutMs`: an
 * unanswered request is a failure.
 */
export function emitRawEvent(socket: TestSocket, event: string, argsJson: readonly string[], withAck: boolean, timeoutMs: number): Promise<unknown[] | undefined> {
  const engine = socket.io.engine;
  const id = withAck ? nextAckId++ : undefined;
  const packet = `2${id ?? ''}[${[JSON.stringify(event), ...argsJson].join(',')}]`;
  if (id === undefined) {
    engine.write(packet);
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const onPacket = (incoming: EnginePacket) => {
      if (incoming.type !== 'message' || typeof incoming.data !== 'string') return;
      const match = /^3(\d+)(\[.*)$/s.exec(incoming.data);
      if (match === null || Number(match[1]) !== id) return;
      finish();
      resolve(JSON.parse(match[2]!) as unknown[]);
    };
    const onClose = (reason: string) => {
      finish();
      reject(new Error(`connection closed before the ack of a raw "${event}" packet: ${reason}`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no ack for a raw "${event}" packet within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      engine.off('packet', onPacket);
      engine.off('close', onClose);
    };
    engine.on('packet', onPacket);
    engine.on('close', onClose);
    engine.write(packet);
  });
}
