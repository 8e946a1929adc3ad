/**
 * Which browser origins may call the server: CORS, the Socket.IO handshake (polling and
 * WebSocket) and state-changing HTTP requests all ask this one policy.
 *
 * An Origin is compared with configured values only (ALLOWED_ORIGINS, PUBLIC_URL), never
 * with the request's own Host header: a DNS-rebinding page at `http://evil.example:3000`
 * sends `Host: evil.example:3000` too, so "same as Host" would let it in.
 *
 * In development with no ALLOWED_ORIGINS, the page served by this server is allowed on
 * loopback at the port the server actually bound (PORT=0 picks one at listen time).
 */
export interface OriginPolicy {
  /** True when a request carrying this Origin header may be served. */
  allows(origin: string): boolean;
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
    allows: (origin) => allowed.has(origin) || loopback.has(origin),
    setListeningPort(port) {
      if (!options.allowLoopbackAtListeningPort) return;
      loopback = new Set([`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`]);
    },
  };
}
