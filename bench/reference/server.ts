/**
 * The reference: the barest Express + Socket.IO server that offers what the benchmark
 * scenarios use, with the same express and socket.io versions as ours (they resolve from
 * the same node_modules). No auth, no validation, no metrics, no logs, no storage:
 * whatever ours costs beyond this is the price of being a real server.
 *
 * - POST /notify        broadcasts the body as `notification`
 * - POST /api/push      emits `data` as `event` to the room user:{userId}
 * - client:message      relays to the room user:{metadata.to}, then acks (point to point)
 * - create_chat_session answers a fresh id; send_message relays as `new_message`, then
 *                       acks: the non-durable counterpart of ours' fsync-acknowledged path
 *
 * A socket joins user:{auth.userId}: the clients send the same handshake to both servers
 * (a token and the userId), and this one simply believes the userId.
 *
 * With REDIS_URL set (the benchmark's --nodes), nodes join through the adapter ours uses,
 * @socket.io/redis-streams-adapter on a node-redis 5 client, set up as its README does:
 * default options but for the names, which REDIS_KEY_PREFIX keeps apart from any other
 * cluster on that Redis. Without it the server stays bare and never loads either module.
 *
 *   PORT=3001 HOST=127.0.0.1 node --import tsx bench/reference/server.ts
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import { Server } from 'socket.io';

interface PushBody {
  userId?: string;
  event?: string;
  data?: unknown;
}
interface RelayPayload {
  metadata?: { to?: string };
}
interface SendMessagePayload {
  receiverUserId?: string;
  sessionId?: string;
  message?: string;
}
type Ack = (reply: unknown) => void;

const app = express();
app.use(express.json());
const httpServer = createServer(app);
const io = new Server(httpServer);

const redisUrl = process.env.REDIS_URL;
if (redisUrl !== undefined && redisUrl !== '') {
  const [{ createClient }, { createAdapter }] = await Promise.all([import('redis'), import('@socket.io/redis-streams-adapter')]);
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  const prefix = process.env.REDIS_KEY_PREFIX ?? 'reference';
  io.adapter(createAdapter(redis, { streamName: `${prefix}:socket.io`, channelPrefix: `${prefix}:socket.io`, sessionKeyPrefix: `${prefix}:socket.io:session:` }));
}

app.get('/health', (_req, res) => {
  res.json({ status: 'healthy' });
});

app.post('/notify', (req, res) => {
  io.emit('notification', req.body);
  res.json({ success: true, recipients: io.engine.clientsCount });
});

app.post('/api/push', (req, res) => {
  const { userId, event = 'notification', data = {} } = req.body as PushBody;
  io.to(`user:${userId}`).emit(event, data);
  res.json({ success: true });
});

io.on('connection', (socket) => {
  const { userId } = socket.handshake.auth as { userId?: string };
  if (userId !== undefined) void socket.join(`user:${userId}`);

  socket.on('client:message', (payload: RelayPayload, ack?: Ack) => {
    socket.to(`user:${payload.metadata?.to}`).emit('client:message', { from: userId, ...payload });
    ack?.({ success: true });
  });

  socket.on('create_chat_session', (_payload: unknown, ack?: Ack) => {
    ack?.({ sessionId: randomUUID() });
  });

  socket.on('send_message', (payload: SendMessagePayload, ack?: Ack) => {
    socket.to(`user:${payload.receiverUserId}`).emit('new_message', { sessionId: payload.sessionId, message: { senderUserId: userId, message: payload.message } });
    ack?.({ success: true });
  });
});

httpServer.listen(Number(process.env.PORT ?? 3001), process.env.HOST ?? '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
