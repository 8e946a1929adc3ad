import { isIP } from 'node:net';

/**
 * Which browser origins may call the server: CORS, the Socket.IO handshake (polling and
 * WebSocket) and state-changing HTTP requests all ask this one policy.
 *
 * An Origin is compared with configured values (ALLOWED_ORIGINS, PUBLIC_URL). It is never
 * trusted merely for equalling the request's own Host: a DNS-rebinding page at
 * `http://evil.example:3000` sends `Host: evil.example:3000` too. The one same-origin case
 * kept is a Host that is an IP address or `localhost`: no DNS name is involved there, so
 * nothing can be rebound, and the origin is this very server. Non-browser clients need it:
 * python-socketio's WebSocket transport sends `Origin: http://<host:port>` of the URL it
 * was given.
 *
 * In development with no ALLOWED_ORIGINS, the page served by this server is allowed on
 * loopback at the port the server actually bound (PORT=0 picks one at listen time).
 */
export interface OriginPolicy {
  /** True when a request carrying this Origin header (and this Host header) may be served. */
  allows(origin: string, host?: string): boolean;
  /** Called once listening, so the loopback default follows the bound port. */
  setListeningPort(port: number): void;
}

export interface OriginPolicyOptions {
  /** Explicitly allowed origins (ALLOWED_ORIGINS plus PUBLIC_URL's origin). */
  allowedOrigins: readonly string[];
  /** Allow http://localhost, 127.0.0.1 and [::1] at the listening port (development default). */
  allowLoopbackAtListeningPort: boolean;
}

export function createOriginPolicy(options: OriginPolicyOptions): OriginPolicy {
  const allowed = new Set(options.allowedOrigins);
  let loopback = new Set<string>();
  return {
    allows: (origin, host) => allowed.has(origin) || loopback.has(origin) || isSameOriginByAddress(origin, host),
    setListeningPort(port) {
      if (!options.allowLoopbackAtListeningPort) return;
      loopback = new Set([`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`]);
    },
  };
}

/** `origin` is http(s)://`host` and that host names no DNS name (an IP literal or localhost). */
function isSameOriginByAddress(origin: string, host: string | undefined): boolean {
  if (host === undefined || !URL.canParse(origin)) return false;
  const url = new URL(origin);
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host !== host.toLowerCase()) return false;
  const name = url.hostname;
  return name === 'localhost' || isIP(name.replace(/^\[|\]$/g, '')) !== 0;
}
