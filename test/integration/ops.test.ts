import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type TestSocket } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

describe('operational endpoints', () => {
  let t: TestServer;
  let socket: TestSocket;
  beforeAll(async () => {
    t = await startServer({ NODE_ID: 'node-a.1' });
    socket = await connectClient(t.url);
  });
  afterAll(async () => {
    socket.close();
    await t.close();
  });

  it('GET /health answers the seed 000 shape', async () => {
    const res = await request(t.url).get('/health').expect(200);
    expect(res.body).toEqual({ status: 'healthy', connections: 1, uptime: expect.any(Number), timestamp: expect.any(String) });
  });

  it('GET /ready is 200 while accepting', async () => {
    const res = await request(t.url).get('/ready').expect(200);
    expect(res.body).toMatchObject({ status: 'ready', checks: { accepting: true } });
  });

  it('GET /api/status merges seeds 001 and 002', async () => {
    t.server.io.in(socket.id!).socketsJoin(['user:u1', 'lobby']);
    const res = await request(t.url).get('/api/status').expect(200);
    expect(res.body).toEqual({
      success: true,
      status: 'ok',
      connections: 1,
      activeConnections: 1,
      activeUsers: 1,
      rooms: 2,
      uptime: expect.any(Number),
      memory: { rss: expect.any(Number), heapTotal: expect.any(Number), heapUsed: expect.any(Number), external: expect.any(Number) },
      timestamp: expect.any(String),
      nodeId: 'node-a.1',
    });
  });

  it('names the node in /metrics with node_info', async () => {
    const res = await request(t.url).get('/metrics').expect(200);
    expect(res.text).toMatch(/^node_info\{node="node-a\.1"\} 1$/m);
  });

  it('GET /api/version answers name and version from package.json, and the node that answered', async () => {
    const res = await request(t.url).get('/api/version').expect(200);
    expect(res.body).toEqual({
      name: 'realtime-notify-server',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      environment: 'test',
      apiKeyRequired: false,
      nodeId: 'node-a.1',
    });
  });

  it('GET /metrics serves Prometheus text with the seed 002 metrics', async () => {
    await request(t.url).post('/api/broadcast').send({ event: 'metric-probe' }).expect(200);
    const res = await request(t.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toContain('socket_server_active_connections 1');
    expect(res.text).toContain('socket_server_connections_total{authenticated="false",transport="websocket"} 1');
    expect(res.text).toContain('socket_server_deliveries_total{endpoint="broadcast",event="metric-probe"} 1');
    expect(res.text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/api\/broadcast",status="200"\} 1/);
    expect(res.text).toContain('process_cpu_user_seconds_total');
  });

  it('a route without path parameters is the same route with a query string, and is labelled by its path (exact dispatch)', async () => {
    await request(t.url).post('/api/broadcast?trace=1').send({ event: 'query-probe' }).expect(200);
    const withQuery = await request(t.url).get('/api/version?x=1').expect(200);
    expect(withQuery.body.name).toBe('realtime-notify-server');
    expect(withQuery.headers['x-request-id']).toBeDefined();
    const res = await request(t.url).get('/metrics').expect(200);
    expect(res.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/version",status="200"\} \d+/);
    expect(res.text).toContain('socket_server_deliveries_total{endpoint="broadcast",event="query-probe"} 1');
  });

  it('GET /metrics reports the chat store\'s in-memory index, read at each scrape', async () => {
    const indexGauges = async () => {
      const text = (await request(t.url).get('/metrics').expect(200)).text;
      return [/^chat_store_indexed_sessions (\d+)$/m, /^chat_store_indexed_messages (\d+)$/m].map((re) => Number(re.exec(text)?.[1]));
    };
    const [sessionsBefore = 0, messagesBefore = 0] = await indexGauges();
    const { body } = await request(t.url).post('/api/sessions').send({ machineId: 'm', senderUserId: 'ops-a', receiverUserId: 'ops-b' }).expect(201);
    for (const message of ['one', 'two']) {
      await request(t.url).post(`/api/sessions/${body.sessionId}/messages`).send({ senderUserId: 'ops-a', message }).expect(201);
    }
    expect(await indexGauges()).toEqual([sessionsBefore + 1, messagesBefore + 2]);
  });

  it('GET /openapi.json is OpenAPI 3.1 generated from the zod schemas', async () => {
    const res = await request(t.url).get('/openapi.json').expect(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/notify', '/api/push', '/api/broadcast', '/api/room']));
    const push = res.body.components.schemas.PushRequest;
    expect(push.properties.userIds.maxItems).toBe(1000);
    expect(push.properties.event.pattern).toBe('^[A-Za-z0-9:_.-]{1,64}$');
  });

  it('GET /docs serves a docs UI from local files only', async () => {
    const page = await request(t.url).get('/docs').expect(200);
    expect(page.text).not.toMatch(/https?:\/\//);
    await request(t.url).get('/docs/swagger-ui-bundle.js').expect(200);
    await request(t.url).get('/docs/swagger-ui.css').expect(200);
    const init = await request(t.url).get('/docs/docs-init.js').expect(200);
    expect(init.text).toContain('/openapi.json');
  });
});
