import { io } from 'socket.io-client';
import { waitFor, type TestSocket } from '../../support/client.js';

/** A decoded Socket.IO packet as socket.io-client's manager sees it. */
export interface WirePacket {
  type: number;
  data?: unknown;
  id?: number;
}
export const CONNECT = 0;
export const EVENT = 2;

export interface RecordedClient {
  socket: TestSocket;
  /** Every packet that reached the client, the CONNECT reply included. */
  packets: WirePacket[];
  /** Resolves with the handler arguments of the next `event`, exactly as a listener gets them. */
  nextArgs(event: string): Promise<unknown[]>;
  /** Raw `[event, ...args]` of every EVENT packet named `event` received so far. */
  eventsNamed(event: string): unknown[][];
}

/**
 * Connects socket.io-client with `auth` as given, recording the raw packets from the first
 * one, and resolves once the server's `connection_status` greeting has arrived.
 */
export async function connectRecorded(url: string, auth: Record<string, unknown>): Promise<RecordedClient> {
  const socket: TestSocket = io(url, { auth, transports: ['websocket'], forceNew: true, reconnection: false });
  const packets: WirePacket[] = [];
  (socket.io as unknown as { on(event: 'packet', listener: (packet: WirePacket) => void): void }).on('packet', (packet) =>
    packets.push(packet),
  );
  const greeted = waitFor(socket, 'connection_status');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  await greeted;
  const nextArgs = (event: string) =>
    new Promise<unknown[]>((resolve) => {
      const listener = (name: string, ...args: unknown[]) => {
        if (name !== event) return;
        socket.offAny(listener);
        resolve(args);
      };
      socket.onAny(listener);
    });
  const eventsNamed = (event: string) =>
    packets
      .filter((packet) => packet.type === EVENT && Array.isArray(packet.data) && packet.data[0] === event)
      .map((packet) => packet.data as unknown[]);
  return { socket, packets, nextArgs, eventsNamed };
}

/** Closes the client's transport the way a network blip would (the socket may reconnect). */
export function dropEngine(client: RecordedClient): void {
  (client.socket.io as unknown as { engine: { close(): void } }).engine.close();
}
