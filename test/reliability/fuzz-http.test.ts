import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, emitWithAck, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { DeepJson, LongString, adversarialValue, stringOfLength, toJsonText, trickyString, unicodeString } from './support/adversarial.js';
import { assertHttpAnswer } from './support/answers.js';
import { LONG, checkProperty, fuzzRuns } from './support/fuzz-run.js';
import { fieldArbitraries, nearValidObject, type FuzzTargets } from './support/payloads.js';
import { createRawHttp, encodeSegment, type RawRequest } from './support/raw-http.js';

const KEY = 'fuzz-http-key-0123456789';

/** What the brief names as fuzzed: each must be in the server's own OpenAPI document, which drives the fuzzing. */
const REQUIRED_OPERATIONS = [
  'POST /notify',
  'POST /api/push',
  'POST /api/broadcast',
  'POST /api/room',
  'POST /api/batch',
  'POST /api/dev/token',
  'POST /api/sessions',
  'GET /api/sessions/{sessionId}',
  'DELETE /api/sessions/{sessionId}',
  'GET /api/sessions/{sessionId}/messages',
  'POST /api/sessions/{sessionId}/messages',
  'GET /api/users/{userId}/sessions',
  'GET /api/users/{userId}/presence',
  'GET /api/connections',
  'POST /api/jobs',
  'GET /api/jobs/{jobId}',
  'POST /api/jobs/{jobId}/assign',
  'POST /api/jobs/{jobId}/cancel',
  'GET /api/users/{userId}/jobs',
  'POST /socket/test/notification',
  'POST /socket/test/email',
  'POST /socket/test/event',
  'POST /socket/test/alarm',
  'POST /socket/test/broadcast',
];

interface Operation {
  method: string;
  /** OpenAPI path template, `{name}` for each parameter. */
  path: string;
  /** Fields of the JSON request body, where the document names them. */
  bodyFields: string[];
  hasBody: boolean;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> } }>>;
  components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> };
}

/** Every operation the server documents, with its body fields: the routes come from the server, not from this file. */
function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const ref = operation.requestBody?.content?.['application/json']?.schema?.$ref;
      const schema = ref === undefined ? undefined : doc.components?.schemas?.[ref.split('/').at(-1)!];
      operations.push({
        method: method.toUpperCase(),
        path,
        bodyFields: Object.keys(schema?.properties ?? {}),
        hasBody: operation.requestBody !== undefined,
      });
    }
  }
  return operations;
}

interface FuzzHttpRequest {
  operation: Operation;
  /** Another method now and then: answered 404 or 405-like, never 500. */
  method: string | null;
  /** Path parameters, already encoded (long ones encoded when sent, to keep failure reports short). */
  params: Array<string | LongString>;
  query: string | null;
  auth: 'apiKey' | 'bearer' | 'none' | 'wrongKey';
  origin: string | null;
  body: { bytes: Buffer | string; contentType: string | null; encoding: string | null } | null;
}

describe('fuzzing every HTTP endpoint (fast-check)', () => {
  let t: TestServer;
  let http: ReturnType<typeof createRawHttp>;
  let neighbour: TestSocket;
  let operations: Operation[];
  let targets: FuzzTargets;

  beforeAll(async () => {
    t = await startServer({
      JWT_SECRET: TEST_SECRET,
      API_KEYS: KEY,
      // The fuzzer sends far faster than a client would (and the neighbour pings after every
      // batch): rate limits are not what is tested here.
      RATE_LIMIT_HTTP_PER_MINUTE: '10000000',
      RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '10000000',
    });
    http = createRawHttp(t.url);
    neighbour = await connectClient(t.url, { auth: { token: signToken({ userId: 'neighbour' }) } });
    const doc = await http.send({ method: 'GET', path: '/openapi.json' });
    operations = operationsOf(JSON.parse(doc.text) as OpenApiDocument);
    const created = await http.send({
      method: 'POST',
      path: '/api/sessions',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': KEY },
      body: JSON.stringify({ machineId: 'm', senderUserId: 'fuzz-a', receiverUserId: 'fuzz-peer' }),
    });
    const { sessionId } = JSON.parse(created.text) as { sessionId: string };
    // A job whose id is what a path parameter defaults to below, so requests reach a real job.
    await http.send({
      method: 'POST',
      path: '/api/jobs',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': KEY },
      body: JSON.stringify({ jobId: 'fuzz-a', subject: 'fuzzed', creatorId: 'fuzz-peer', assigneeId: 'fuzz-a' }),
    });
    targets = {
      sessionIds: [sessionId],
      userIds: ['fuzz-a', 'fuzz-peer', 'neighbour', 'stranger'],
      tokens: [signToken({ userId: 'fuzz-a' }), 'not.a.token'],
      rooms: [neighbour.id!],
    };
  });

  afterAll(async () => {
    http?.close();
    neighbour?.close();
    await t?.close();
  });

  it('fuzzes every operation the brief names (they are all in /openapi.json)', () => {
    expect(operations.map((op) => `${op.method} ${op.path}`)).toEqual(expect.arrayContaining(REQUIRED_OPERATIONS));
  });

  /**
   * Batches every run starts with, so that the short run always covers the shapes the
   * issue's attacks took: a body nested 10,000 levels deep (whole, and inside a body that is otherwise valid),
   * a broken gzip body, and path parameters that are not valid percent-encoding.
   */
  const knownAttacks = (): Array<[FuzzHttpRequest[]]> => {
    const paramNames = (operation: Operation) => [...operation.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
    const valid = (operation: Operation): FuzzHttpRequest => ({
      operation,
      method: null,
      params: paramNames(operation).map((name) => (name === 'sessionId' ? targets.sessionIds[0]! : 'fuzz-a')),
      query: null,
      auth: 'apiKey',
      origin: null,
      body: null,
    });
    const json = (bytes: string | Buffer, encoding: string | null = null) => ({ bytes, contentType: 'application/json', encoding });
    const withBody = operations.filter((operation) => operation.hasBody);
    const withParams = operations.filter((operation) => paramNames(operation).length > 0);
    const deep = new DeepJson(10_000, 'array');
    // Otherwise valid bodies whose deep part the server would forward to sockets or store.
    const nested = new DeepJson(10_000, 'object');
    const forwardedBodies: Record<string, object> = {
      'POST /notify': { title: 'deep', nested },
      'POST /api/broadcast': { event: 'deep', data: nested },
      'POST /api/room': { room: 'news', data: nested },
      'POST /api/push': { userId: 'fuzz-a', data: nested },
      'POST /api/batch': { items: [{ op: 'push', userId: 'fuzz-a', data: nested }, { op: 'room', room: 'news', data: nested }] },
      'POST /api/sessions/{sessionId}/messages': { senderUserId: 'fuzz-a', message: 'x', extra: nested },
      'POST /api/jobs': { subject: 'deep', assigneeId: 'fuzz-a', data: nested },
      'POST /socket/test/notification': { title: 'deep', data: nested },
    };
    return [
      [withBody.map((operation) => ({ ...valid(operation), body: json(deep.text()) }))],
      [
        Object.entries(forwardedBodies).flatMap(([key, body]) => {
          const operation = operations.find((op) => `${op.method} ${op.path}` === key);
          // The test helpers take a user's token, not the key.
          const auth = key.startsWith('POST /socket/test/') ? ('bearer' as const) : ('apiKey' as const);
          return operation === undefined ? [] : [{ ...valid(operation), auth, body: json(toJsonText(body)) }];
        }),
      ],
      [withBody.map((operation) => ({ ...valid(operation), body: json(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x6e, 0x6f, 0x74]), 'gzip') }))],
      [withParams.flatMap((operation) => ['%FF%FE', '%C0%AE', '%'].map((bad) => ({ ...valid(operation), params: paramNames(operation).map(() => bad) })))],
    ];
  };

  it(
    'never answers 500, answers every error with a catalog code matching its status, and keeps serving',
    async () => {
      const maxBody = t.config.maxBodyBytes;
      const fields = fieldArbitraries(targets);
      // Node's HTTP parser refuses a request line and headers over 16 KiB before the app sees
      // the request (431 HEADERS_TOO_LARGE, from src/http/client-errors.ts): segments reach
      // past that, and stay bounded so a batch stays quick.
      const boundedSegment = (value: unknown) => {
        const encoded = encodeSegment(typeof value === 'string' ? value : toJsonText(value));
        return encoded.length <= 24_000 ? encoded : encoded.slice(0, 24_000).replace(/%[0-9A-F]?$/, '');
      };
      /** A path parameter: mostly a value of its kind (by its name in the template), else anything, encoded or malformed. */
      const segment = (name: string) =>
        fc.oneof(
          { weight: 6, arbitrary: (fields[name] ?? trickyString).map(boundedSegment) },
          { weight: 2, arbitrary: fc.oneof(trickyString, unicodeString).map(encodeSegment) },
          { weight: 1, arbitrary: stringOfLength([128, 129, 1000]) },
          // Percent-encoding that does not decode, and dot segments.
          { weight: 2, arbitrary: fc.constantFrom('%FF%FE', '%C0%AE', '%', '%zz', '%E0%A4%A', '%00', '..', '.', '%2e%2e', '%2F', 'a%2Fb', '%25') },
        );
      const queryValue = fc.oneof(
        fc.constantFrom('1', '0', '-1', '500', '501', '1e3', 'NaN', '', '%FF', '%', 'fuzz-a', '__proto__'),
        fc.oneof(trickyString, unicodeString).map(encodeSegment),
      );
      const queryKey = fc.constantFrom('limit', 'after', 'userId', 'tenantId', 'token', 'api_key', '__proto__', '__proto__[x]', 'a[b][c]', 'constructor', '%FF');
      const query = fc.array(fc.tuple(queryKey, queryValue), { minLength: 1, maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

      const jsonType = fc.oneof(
        { weight: 8, arbitrary: fc.constant<string | null>('application/json') },
        { weight: 1, arbitrary: fc.constantFrom<string | null>('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', null) },
      );
      const bodyFor = (operation: Operation) =>
        fc.oneof(
          { weight: 6, arbitrary: nearValidObject(targets, operation.bodyFields).map(toJsonText) },
          { weight: 2, arbitrary: adversarialValue.map(toJsonText) },
          // Not JSON at all: text, and raw bytes.
          { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
          // Just under and just over MAX_BODY_BYTES.
          { weight: 1, arbitrary: fc.constantFrom(maxBody - 64, maxBody + 64).map((size) => `{"data":"${'a'.repeat(size - 11)}"}`) },
        ).chain((bytes: string | Buffer) =>
          fc.oneof(
            { weight: 8, arbitrary: jsonType.map((contentType) => ({ bytes, contentType, encoding: null as string | null })) },
            // Compressed, broken compression (a gzip magic number, then no gzip), and encodings body-parser does not know.
            { weight: 1, arbitrary: fc.constant({ bytes: gzipSync(bytes), contentType: 'application/json', encoding: 'gzip' }) },
            {
              weight: 1,
              arbitrary: fc
                .constantFrom('gzip', 'deflate', 'br', 'x-unknown')
                .map((encoding) => ({ bytes: Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from(bytes)]), contentType: 'application/json', encoding })),
            },
          ),
        );

      /** `arbitrary`'s value `yes` times in `yes + no`, null otherwise. */
      const sometimes = <T>(yes: number, no: number, arbitrary: fc.Arbitrary<T>) =>
        fc.oneof({ weight: yes, arbitrary }, { weight: no, arbitrary: fc.constant(null) });
      const request: fc.Arbitrary<FuzzHttpRequest> = fc.constantFrom(...operations).chain((operation) =>
        fc.record({
          operation: fc.constant(operation),
          method: sometimes(1, 9, fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS')),
          params: fc.tuple(...[...operation.path.matchAll(/\{([^}]+)\}/g)].map((match) => segment(match[1]!))),
          query: sometimes(1, 1, query),
          auth: fc.constantFrom('apiKey' as const, 'apiKey' as const, 'apiKey' as const, 'bearer' as const, 'none' as const, 'wrongKey' as const),
          origin: sometimes(1, 5, fc.constantFrom('http://evil.example', 'null', t.url)),
          // Mostly a body where one is expected, and now and then one where none is.
          body: operation.hasBody ? sometimes(9, 1, bodyFor(operation)) : sometimes(1, 6, bodyFor(operation)),
        }),
      );

      const toRaw = (req: FuzzHttpRequest): RawRequest => {
        let index = 0;
        const param = (value: string | LongString | undefined) => (value instanceof LongString ? encodeSegment(value.value()) : (value ?? 'x'));
        const path = req.operation.path.replace(/\{[^}]+\}/g, () => param(req.params[index++])) + (req.query === null ? '' : `?${req.query}`);
        const headers: Record<string, string> = {};
        if (req.auth === 'apiKey') headers['X-API-Key'] = KEY;
        if (req.auth === 'wrongKey') headers['X-API-Key'] = `${KEY}-wrong`;
        if (req.auth === 'bearer') headers.Authorization = `Bearer ${targets.tokens[0]}`;
        if (req.origin !== null) headers.Origin = req.origin;
        if (req.body?.contentType) headers['Content-Type'] = req.body.contentType;
        if (req.body?.encoding) headers['Content-Encoding'] = req.body.encoding;
        return { method: req.method ?? req.operation.method, path, headers, ...(req.body ? { body: req.body.bytes } : {}) };
      };

      let batches = 0;
      const property = fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 8 }), async (batch) => {
        batches += 1;
        for (const req of batch) {
          const raw = toRaw(req);
          const res = await http.send(raw);
          assertHttpAnswer(`${raw.method} ${raw.path.slice(0, 200)}`, res);
        }
        // Still serving: HTTP answers, and an unrelated socket keeps its round trip.
        const health = await http.send({ method: 'GET', path: '/health' });
        if (health.status !== 200) throw new Error(`/health answered ${health.status} after batch ${batches}`);
        const pong = await emitWithAck<{ timestamp?: string }>(neighbour, 'ping', { timestamp: batches }).catch((err: Error) => {
          throw new Error(`the neighbour's ping got no ack after batch ${batches}: ${err.message}`);
        });
        if (typeof pong.timestamp !== 'string') throw new Error(`the neighbour's ping was refused: ${JSON.stringify(pong)}`);
      });
      await checkProperty('test/reliability/fuzz-http.test.ts', property, fuzzRuns(100, 2000), knownAttacks());
      expect(batches).toBeGreaterThan(0);
      expect(neighbour.connected).toBe(true);
    },
    LONG ? 60 * 60_000 : 90_000,
  );
});
