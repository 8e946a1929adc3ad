import type { AckFailure, SocketErrorPayload } from './error-codes.js';
import type { ChatMessage, ChatSession } from './chat.js';
import type { MarkedReadPayload, NotificationDeletedPayload, NotificationPage, NotificationRecord, UnreadCountPayload } from './inbox.js';
import type { BroadcastPayload, TestNotificationPayload, TestNotificationReply } from './test-helpers.js';
import type {
  JobCompletePayload,
  JobRecord,
  JobReply,
  JobStartPayload,
  JobStatusChangedPayload,
  TestAssignJobPayload,
  TestCreateJobPayload,
} from './jobs.js';
import type {
  AuthRefreshPayload,
  CreateChatSessionPayload,
  MessageReadPayload,
  NotificationDeletePayload,
  NotificationListPayload,
  NotificationReadAllPayload,
  NotificationReadPayload,
  SendMessagePayload,
  TypingPayload,
  ClientActionPayload,
  ClientEventPayload,
  ClientMessagePayload,
  PingPayload,
  RegisterPayload,
  RegisterUserPayload,
  RoomPayload,
} from './schemas.js';

/**
 * The socket wire contract, shared with clients: every event the server answers and
 * every event it emits, with payload types. Event names that the seed documents define
 * keep their names; events new to this server are named `domain:verb`.
 * `docs/protocol.md` describes each event in prose.
 */

/** ISO 8601 timestamp string. */
export type IsoTimestamp = string;

/**
 * Ack callback: receives the same object as the reply event, or a failure. Every
 * client → server event accepts one as its last argument.
 */
export type Ack<T> = (reply: T | AckFailure) => void;

export interface ConnectionStatusPayload {
  connected: true;
  socketId: string;
  userId: string | null;
  timestamp: IsoTimestamp;
}

export interface WelcomePayload {
  message: string;
  socketId: string;
  timestamp: IsoTimestamp;
  serverInfo: { version: string; environment: string };
}

export interface ConnectedPayload {
  message: string;
  socketId: string;
  userId: string | null;
  timestamp: IsoTimestamp;
}

export interface RegisterAck {
  success: true;
  userId: string;
}

export interface RegistrationSuccess {
  userId: string;
  machineId: string;
  socketId: string;
}

export interface RegistrationError {
  error: string;
  code: AckFailure['code'];
}

export interface PongPayload {
  timestamp: IsoTimestamp;
  /** The `timestamp` the client sent with `ping`, echoed for round-trip measurement. */
  clientTimestamp?: number | string;
}

export interface RelayedMessage {
  /** Sender's user id, or socket id when the sender is anonymous. */
  from: string;
  data: unknown;
  timestamp: IsoTimestamp;
}

export interface ServerResponse {
  success: true;
  requestId: string;
  data: unknown;
}

export interface MessageAck {
  success: true;
  requestId: string;
  messageId: string;
}

export interface DeliveredClientMessage {
  messageId: string;
  from: string;
  content: string;
  type: string | undefined;
  metadata: Record<string, unknown> | undefined;
  timestamp: IsoTimestamp;
}

export interface ActionResult {
  success: true;
  requestId: string;
  result: unknown;
}

export interface RoomAck {
  success: true;
  room: string;
}

export interface AuthRefreshAck {
  success: true;
  /** The new expiry, seconds since the epoch. */
  exp: number;
}

export interface StateRecoveredPayload {
  userId: string | null;
  timestamp: IsoTimestamp;
}

export interface StateRecoveryFailedPayload {
  message: string;
  timestamp: IsoTimestamp;
}

export type { ChatMessage, ChatSession };

export interface SessionCreated {
  sessionId: string;
  session: ChatSession;
}

export interface NewChatSessionPayload {
  sessionId: string;
  senderUserId: string;
  receiverUserId: string;
  createdAt: IsoTimestamp;
}

/** `message_sent`: the message is on disk. */
export interface MessageSent {
  sessionId: string;
  messageId: string;
  seq: number;
  timestamp: IsoTimestamp;
  /** True when at least one of the receiver's sockets was handed the message. */
  delivered: boolean;
  /** True when this was a retry of a clientMessageId already stored. */
  duplicate: boolean;
}

export interface NewMessagePayload {
  sessionId: string;
  message: ChatMessage;
}

export interface ReceiverUnavailablePayload {
  sessionId: string;
  receiverUserId: string;
  messageId: string;
  stored: true;
}

export interface ChatErrorPayload {
  error: string;
  code: AckFailure['code'];
  /** Seconds to wait before retrying (RATE_LIMITED only). */
  retryAfter?: number;
}

/** A session whose undelivered messages were not all pushed at connect. */
export interface PendingChatSession {
  sessionId: string;
  /** Pass as `after` to GET /api/sessions/:sessionId/messages: everything up to it was pushed. */
  after: number;
  /** Messages to you above `after` that were not pushed. */
  pending: number;
}

/**
 * `chat:pending`: offline delivery at connect stopped at its caps (per session, and
 * CHAT_OFFLINE_MAX_MESSAGES in all); these sessions hold more messages for you.
 */
export interface ChatPendingPayload {
  /** Newest activity first, at most 200. */
  sessions: PendingChatSession[];
  /** More sessions than listed hold undelivered messages: see `undeliveredCount` in GET /api/users/:userId/sessions. */
  truncated: boolean;
}

export interface MessageReadReceipt {
  sessionId: string;
  seq: number;
  readerUserId: string;
}

/** Messages up to `seq` have reached one of the receiver's sockets (sent after a late, offline delivery). */
export interface MessageDeliveredReceipt {
  sessionId: string;
  seq: number;
  receiverUserId: string;
}

export interface TypingNotice {
  sessionId: string;
  userId: string;
}

export type { MarkedReadPayload, NotificationDeletedPayload, NotificationPage, NotificationRecord, UnreadCountPayload };
export type { JobRecord, JobReply, JobStatusChangedPayload };

/** `notification:list`'s answer: a page of the user's inbox, newest first, and the exact unread count. */
export interface NotificationListReply extends NotificationPage {
  success: true;
}

export interface NotificationReadReply {
  success: true;
  /** The id as the server writes it (a string, whatever the client sent). */
  notificationId: string;
  /** 1 when it was unread, 0 when it had been read already. */
  changed: number;
  readAt: IsoTimestamp;
}

export interface NotificationReadAllReply {
  success: true;
  all: true;
  /** How many were unread. */
  changed: number;
  readAt: IsoTimestamp;
}

export interface NotificationDeleteReply {
  success: true;
  notificationId: string;
}

/**
 * `kafka-event` (seed 004): one event the server delivered or ingested, mirrored to the
 * sockets in the `kafka-events` monitoring room. `topic` names where it came from
 * (`notify`, `api.push`, `api.broadcast`, `api.room`, `jobs`, or an ingested stream's
 * name); `event` is what was delivered or ingested (docs/protocol.md gives each topic's).
 */
export interface KafkaEventPayload {
  topic: string;
  event: unknown;
  timestamp: IsoTimestamp;
}

export interface ShutdownPayload {
  message: string;
  timestamp: IsoTimestamp;
}

/** Server → client events. Publishers may also push events with names of their own. */
export interface ServerToClientEvents {
  connection_status: (payload: ConnectionStatusPayload) => void;
  'system:welcome': (payload: WelcomePayload) => void;
  connected: (payload: ConnectedPayload) => void;
  /** POST /notify body as sent, plus `id` and `timestamp` when absent; also /api/push's default event. */
  notification: (payload: Record<string, unknown>) => void;
  error: (payload: SocketErrorPayload) => void;
  // Reply events carry the request's failure too (`success: false`), unless the request
  // has a failure event of its own (`registration_error`, `session_error`, `message_error`).
  'register:ack': (payload: RegisterAck | AckFailure) => void;
  registration_success: (payload: RegistrationSuccess) => void;
  registration_error: (payload: RegistrationError) => void;
  pong: (payload: PongPayload | AckFailure) => void;
  message: (payload: RelayedMessage) => void;
  'server:response': (payload: ServerResponse | AckFailure) => void;
  'message:ack': (payload: MessageAck | AckFailure) => void;
  'client:message': (payload: DeliveredClientMessage) => void;
  'action:result': (payload: ActionResult | AckFailure) => void;
  'room:join:ack': (payload: RoomAck | AckFailure) => void;
  'room:leave:ack': (payload: RoomAck | AckFailure) => void;
  'system:state_recovered': (payload: StateRecoveredPayload) => void;
  'system:state_recovery_failed': (payload: StateRecoveryFailedPayload) => void;
  session_created: (payload: SessionCreated) => void;
  new_chat_session: (payload: NewChatSessionPayload) => void;
  session_error: (payload: ChatErrorPayload) => void;
  message_sent: (payload: MessageSent) => void;
  new_message: (payload: NewMessagePayload) => void;
  receiver_unavailable: (payload: ReceiverUnavailablePayload) => void;
  message_error: (payload: ChatErrorPayload) => void;
  message_read: (payload: MessageReadReceipt) => void;
  message_delivered: (payload: MessageDeliveredReceipt) => void;
  'chat:pending': (payload: ChatPendingPayload) => void;
  typing: (payload: TypingNotice) => void;
  /** Sent to every socket when the server begins a graceful shutdown. */
  'system:shutdown': (payload: ShutdownPayload) => void;
  // The inbox: to every socket of the user (all devices), whichever socket or REST call made the change.
  'notification:new': (payload: NotificationRecord) => void;
  'notification:unread-count': (payload: UnreadCountPayload) => void;
  'notification:marked-read': (payload: MarkedReadPayload) => void;
  'notification:deleted': (payload: NotificationDeletedPayload) => void;
  'notification:list:ack': (payload: NotificationListReply | AckFailure) => void;
  'notification:read:ack': (payload: NotificationReadReply | AckFailure) => void;
  'notification:read-all:ack': (payload: NotificationReadAllReply | AckFailure) => void;
  'notification:delete:ack': (payload: NotificationDeleteReply | AckFailure) => void;
  /** Development helpers (only while they are on): to every socket, from `POST /socket/test/broadcast`. */
  broadcast: (payload: BroadcastPayload) => void;
  'test:notification:ack': (payload: TestNotificationReply | AckFailure) => void;
  /** To the `kafka-events` room only: the monitoring mirror of every delivery and ingested entry. */
  'kafka-event': (payload: KafkaEventPayload) => void;
  // Jobs (seed 003), to the users a transition concerns, in the job's tenant.
  /** To the new assignee: the job. */
  'job:assigned': (payload: JobRecord) => void;
  /** To the assignee and the creator: the job. */
  'job:started': (payload: JobRecord) => void;
  /** To the assignee and the creator: the job. */
  'job:completed': (payload: JobRecord) => void;
  /** To the assignee, the creator (and a previous assignee) on every transition. */
  'job:status-changed': (payload: JobStatusChangedPayload) => void;
}

/** Client → server events. */
export interface ClientToServerEvents {
  register: (payload: RegisterPayload, ack?: Ack<RegisterAck>) => void;
  register_user: (payload: RegisterUserPayload, ack?: Ack<RegistrationSuccess>) => void;
  ping: (payload?: PingPayload, ack?: Ack<PongPayload>) => void;
  /** Any JSON; an object with `room` is relayed to that room only. */
  message: (payload: unknown, ack?: Ack<{ success: true; recipients: number }>) => void;
  'client:event': (payload: ClientEventPayload, ack?: Ack<ServerResponse>) => void;
  'client:message': (payload: ClientMessagePayload, ack?: Ack<MessageAck>) => void;
  'client:action': (payload: ClientActionPayload, ack?: Ack<ActionResult>) => void;
  'room:join': (payload: RoomPayload, ack?: Ack<RoomAck>) => void;
  'room:leave': (payload: RoomPayload, ack?: Ack<RoomAck>) => void;
  subscribe: (channelName: string, ack?: Ack<RoomAck>) => void;
  unsubscribe: (channelName: string, ack?: Ack<RoomAck>) => void;
  'auth:refresh': (payload: AuthRefreshPayload, ack?: Ack<AuthRefreshAck>) => void;
  create_chat_session: (payload: CreateChatSessionPayload, ack?: Ack<SessionCreated>) => void;
  send_message: (payload: SendMessagePayload, ack?: Ack<MessageSent>) => void;
  message_read: (payload: MessageReadPayload, ack?: Ack<{ success: true; sessionId: string; seq: number }>) => void;
  typing: (payload: TypingPayload, ack?: Ack<{ success: true }>) => void;
  'notification:list': (payload?: NotificationListPayload, ack?: Ack<NotificationListReply>) => void;
  'notification:read': (payload: NotificationReadPayload, ack?: Ack<NotificationReadReply>) => void;
  'notification:read-all': (payload?: NotificationReadAllPayload, ack?: Ack<NotificationReadAllReply>) => void;
  'notification:delete': (payload: NotificationDeletePayload, ack?: Ack<NotificationDeleteReply>) => void;
  /** Development helper (only while the test helpers are on; otherwise UNKNOWN_ACTION): a notification stored in your own inbox. */
  'test:notification': (payload?: TestNotificationPayload, ack?: Ack<TestNotificationReply>) => void;
  /** Jobs (seed 003), the assignee only; answered on the ack alone. */
  'job:start': (payload: JobStartPayload, ack?: Ack<JobReply>) => void;
  'job:complete': (payload: JobCompletePayload, ack?: Ack<JobReply>) => void;
  /** Development helpers (only while the test helpers are on; otherwise UNKNOWN_ACTION): a job created by you; assigning one of your tenant's jobs. */
  'test:create-job': (payload: TestCreateJobPayload, ack?: Ack<JobReply>) => void;
  'test:assign-job': (payload: TestAssignJobPayload, ack?: Ack<JobReply>) => void;
}

/** Events between server nodes (Redis adapter). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- none yet; the cluster adds them
export interface InterServerEvents {}

/** Per-socket state, in Socket.IO's typed `socket.data`. */
export interface SocketData {
  /** Identified user: from the token, or from `register` on an anonymous socket. */
  userId: string | undefined;
  tenantId: string | undefined;
  /** True when the identity comes from a verified token. */
  authenticated: boolean;
  /** Token expiry, seconds since the epoch (authenticated sockets only). */
  tokenExp: number | undefined;
  /** Private room patterns from the token's `rooms` claim. */
  roomGrants: readonly string[];
  /** Device id given with `register_user` (seed 001). */
  machineId: string | undefined;
  connectedAt: number;
}
