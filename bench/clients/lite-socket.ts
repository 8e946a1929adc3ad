import WebSocket from 'ws';

/**
 * A minimal Socket.IO client (Engine.IO v4 over a WebSocket, Socket.IO protocol v5, main
 * namespace, text packets only). The wire is byte for byte what socket.io-client sends
 * with `transports: ['websocket']`, so the server cannot tell the difference; but it costs
 * a fraction of socket.io-client's CPU and memory per socket, which matters when 10,000
 * sockets and the server share two cores. Incoming events are handed over as raw packet
 * text so hot paths can skip JSON.parse.
 */
export interface LiteSocketOptions {
  /** http://host:port of the server. */
  url: string;
  /** The CONNECT packet's payload: what socket.io-client sends as `auth`. */
  auth: Record<string, unknown>;
  timeoutMs: number;
}

export class ConnectRefused extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ConnectRefused';
  }
}

export class LiteSocket {
  /** Raw EVENT packet text, e.g. `42["notification",{…}]`. */
  onEvent: ((raw: string) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  connected = false;
  private ws: WebSocket | undefined;
  private nextAckId = 0;
  private readonly pendingAcks = new Map<number, { resolve: (raw: string) => void; reject: (err: Error) => void }>();

  constructor(private readonly options: LiteSocketOptions) {}

  connect(): Promise<void> {
    const base = this.options.url.replace(/^http/, 'ws');
    const ws = new WebSocket(`${base}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
    this.ws = ws;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          ws.terminate();
          reject(err);
        } else resolve();
      };
      const timer = setTimeout(() => settle(new Error(`connect timed out after ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      ws.on('error', (err) => settle(err));
      ws.on('close', () => {
        settle(new Error('closed before connecting'));
        this.closed('transport close');
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const raw = data.toString();
        switch (raw.charCodeAt(0)) {
          case 0x30: // '0' engine open
            ws.send(`40${JSON.stringify(this.options.auth)}`);
            return;
          case 0x32: // '2' engine ping
            ws.send('3');
            return;
          case 0x34: // '4' engine message: a Socket.IO packet follows
            this.onPacket(raw, settle);
            return;
          case 0x31: // '1' engine close
            ws.close();
            return;
          default:
            return;
        }
      });
    });
  }

  private onPacket(raw: string, settle: (err?: Error) => void): void {
    switch (raw.charCodeAt(1)) {
      case 0x32: // '2' EVENT
        this.onEvent?.(raw);
        return;
      case 0x33: {
        // '3' ACK: 43<id>[args]
        const bracket = raw.indexOf('[');
        const id = Number(raw.slice(2, bracket));
        const pending = this.pendingAcks.get(id);
        if (pending) {
          this.pendingAcks.delete(id);
          pending.resolve(raw.slice(bracket));
        }
        return;
      }
      case 0x30: // '0' CONNECT accepted
        this.connected = true;
        settle();
        return;
      case 0x34: {
        // '4' CONNECT_ERROR: {"message","data":{"code"}}
        let message = 'connect_error';
        let code: string | undefined;
        try {
          const parsed = JSON.parse(raw.slice(2)) as { message?: string; data?: { code?: string } };
          message = parsed.message ?? message;
          code = parsed.data?.code;
        } catch {
          // An unparsable refusal is still a refusal; the message says so.
          message = `connect_error: ${raw.slice(2, 200)}`;
        }
        settle(new ConnectRefused(message, code));
        return;
      }
      case 0x31: // '1' DISCONNECT by the server
        this.ws?.close();
        return;
      default:
        return;
    }
  }

  private closed(reason: string): void {
    const wasConnected = this.connected;
    this.connected = false;
    for (const pending of this.pendingAcks.values()) pending.reject(new Error(`socket closed: ${reason}`));
    this.pendingAcks.clear();
    if (wasConnected) this.onClose?.(reason);
  }

  emit(event: string, ...args: unknown[]): void {
    this.ws?.send(`42${JSON.stringify([event, ...args])}`);
  }

  /** Emits with an ack id; resolves with the ack's raw JSON argument array. */
  emitWithAck(event: string, ...args: unknown[]): Promise<string> {
    const id = this.nextAckId++;
    return new Promise<string>((resolve, reject) => {
      if (!this.connected || this.ws === undefined) return reject(new Error('not connected'));
      this.pendingAcks.set(id, { resolve, reject });
      this.ws.send(`42${id}${JSON.stringify([event, ...args])}`);
    });
  }

  /** Like socket.io-client's disconnect(): a DISCONNECT packet, then the close handshake. */
  disconnect(): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send('41');
    this.ws?.close();
  }

  /** Drops the connection without a word, as a lost network would. */
  terminate(): void {
    this.ws?.terminate();
  }
}

/** The number after `key` (e.g. `"t":`) in a raw packet, without parsing the whole JSON. */
export function numberAfter(raw: string, key: string): number {
  const at = raw.indexOf(key);
  if (at < 0) return Number.NaN;
  return Number.parseFloat(raw.slice(at + key.length, at + key.length + 32));
}
