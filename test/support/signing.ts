import { randomBytes } from 'node:crypto';
import { computeSignature, type SignatureVersion } from '../../src/http/middleware/signature.js';

/** Headers for a signed request, computed the way a client following the README would. */
export function signedHeaders(
  apiKey: string,
  version: SignatureVersion,
  request: { method: string; path: string; body?: string },
  overrides: { timestamp?: number | string; nonce?: string } = {},
): Record<string, string> {
  const timestamp = String(overrides.timestamp ?? Date.now());
  const nonce = overrides.nonce ?? randomBytes(12).toString('hex');
  const signature = computeSignature(apiKey, version, {
    method: request.method,
    path: request.path,
    timestamp,
    nonce,
    body: Buffer.from(request.body ?? ''),
  });
  return {
    'X-API-Key': apiKey,
    'X-Request-Timestamp': timestamp,
    'X-Request-Nonce': nonce,
    'X-Signature-Version': version,
    'X-Signature': signature,
  };
}
