import type { NonceStore } from '../../domain/nonce-store.js';

/**
 * In-process nonce store. Every entry has the same TTL, so Map insertion order is also
 * expiry order and purging only ever looks at the oldest entries: O(expired) per call.
 */
export function createMemoryNonceStore(options: { maxEntries?: number; now?: () => number } = {}): NonceStore {
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const expiries = new Map<string, number>();

  const purge = (at: number) => {
    for (const [nonce, expiresAt] of expiries) {
      if (expiresAt > at) break;
      expiries.delete(nonce);
    }
  };

  return {
    async remember(nonce, ttlMs) {
      const at = now();
      purge(at);
      if (expiries.has(nonce)) return 'seen';
      if (expiries.size >= maxEntries) return 'full';
      expiries.set(nonce, at + ttlMs);
      return 'fresh';
    },
  };
}
