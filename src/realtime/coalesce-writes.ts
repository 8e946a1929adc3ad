import type { Socket as NetSocket } from 'node:net';
import type { Server } from 'socket.io';

type EngineServer = Server['engine'];
/** The part of an Engine.IO socket read here. */
interface EngineSocket {
  transport: { name: string; socket?: { _socket?: NetSocket } };
}

/**
 * Engine.IO sends every buffered packet as its own WebSocket frame, and each frame is its
 * own write to the TCP socket: one system call per packet. Packets pile up in its buffer
 * whenever the previous write is still in flight (a busy socket, a reply event followed
 * by its ack), and are then flushed together. This corks the TCP socket for the length of
 * such a flush, so they leave in one write; a flush of one packet is left alone.
 *
 * Uses only Engine.IO's public `flush` and `drain` server events, which it emits
 * synchronously before and after handing the buffer to the transport.
 */
export function coalesceFlushedWrites(engine: EngineServer): void {
  let corked: NetSocket | undefined;
  const uncork = () => {
    const raw = corked;
    corked = undefined;
    raw?.uncork();
  };
  engine.on('flush', (socket: EngineSocket, buffer: readonly unknown[]) => {
    // A flush always ends with its drain; should a transport ever throw in between, the
    // socket it left corked is released here, by the next flush.
    uncork();
    if (buffer.length < 2) return;
    const raw = tcpSocketOf(socket);
    if (raw === undefined || raw.writableCorked > 0) return;
    raw.cork();
    corked = raw;
  });
  engine.on('drain', uncork);
}

/** The TCP socket under a WebSocket transport (ws keeps it as `_socket`); none for polling. */
function tcpSocketOf(socket: EngineSocket): NetSocket | undefined {
  const { transport } = socket;
  return transport.name === 'websocket' ? transport.socket?._socket : undefined;
}

/**
 * The parts of an Engine.IO connection that holding its writes reads and calls. Engine.IO's
 * `transport.writable` and `flush()` are not in its typed API:
 * test/integration/write-coalescing.test.ts fails if they stop doing this.
 */
export interface EngineConnection {
  transport: { name: string; writable: boolean };
  flush(): void;
}

/**
 * Marks an idle connection's transport busy, so the packets emitted meanwhile wait in
 * Engine.IO's buffer; returns what hands it back and flushes that buffer once (in one
 * write, corked by coalesceFlushedWrites). A transport already busy keeps its own state
 * and buffers anyway: nothing to hand back.
 */
function hold(connection: EngineConnection): (() => void) | undefined {
  const { transport } = connection;
  if (!transport.writable) return undefined;
  transport.writable = false;
  return () => {
    // Nothing can have written meanwhile (a transport sends only when writable), so the
    // flag is still ours; a closed connection ignores the flush.
    transport.writable = true;
    connection.flush();
  };
}

/**
 * Runs `emit` with the given connections' writes held (see `hold`), then releases each:
 * a connection gets all of the packets in one write instead of the first alone and the
 * rest after its callback. The transports are writable again afterwards whatever `emit` did.
 */
export function holdingWrites(connections: Iterable<EngineConnection>, emit: () => void): void {
  const releases: (() => void)[] = [];
  for (const connection of connections) {
    const release = hold(connection);
    if (release !== undefined) releases.push(release);
  }
  try {
    emit();
  } finally {
    for (const release of releases) release();
  }
}

/**
 * Holds a new WebSocket connection's writes until the end of this turn of the event loop.
 * Run as the last middleware, it gathers Socket.IO's CONNECT packet, the greetings the
 * seed clients expect, a recovered socket's missed packets, and whatever the store answers
 * within the turn (the unread count, waiting chat messages): one write where there were
 * three or more (CONNECT alone, the greetings, the count). Polling transports are left
 * alone (a poll request flips `writable` by itself).
 */
export function holdWritesThisTurn(connection: EngineConnection): void {
  if (connection.transport.name !== 'websocket') return;
  const release = hold(connection);
  if (release !== undefined) setImmediate(release);
}
