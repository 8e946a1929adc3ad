import type { TokenSigner } from '../auth/token-signer.js';
import type { Config } from '../config.js';
import type { ChatService } from '../domain/chat-service.js';
import type { EventMirror } from '../domain/event-mirror.js';
import type { InboxService } from '../domain/inbox-service.js';
import type { JobService } from '../domain/job-service.js';
import type { TokenVerifier } from '../domain/identity.js';
import type { Lifecycle } from '../domain/lifecycle.js';
import type { NonceStore } from '../domain/nonce-store.js';
import type { OriginPolicy } from '../domain/origin-policy.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import type { RealtimeGateway } from '../domain/realtime-gateway.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

/** Name, version and environment, as /api/version and the OpenAPI document state them. */
export interface AppInfo {
  name: string;
  version: string;
  environment: string;
}

/** Everything the HTTP app is built from; route handlers take what they need from it. */
export interface HttpDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  gateway: RealtimeGateway;
  httpRateLimiter: RateLimiter;
  /** Which browser origins may call: CORS and the state-changing request guard. */
  origins: OriginPolicy;
  nonces: NonceStore;
  info: AppInfo;
  publicDir: string;
  verifier: TokenVerifier;
  chat: ChatService;
  inbox: InboxService;
  jobs: JobService;
  /** The `kafka-events` monitoring stream: every delivery is mirrored to it. */
  mirror: EventMirror;
  /** Issues development tokens; absent in production. */
  devTokenSigner: TokenSigner | undefined;
}
