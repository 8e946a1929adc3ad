import { Agent, request } from 'node:http';

/** Keep-alive POSTs of JSON from the orchestrator (the /notify publisher, soak traffic). */
export function createPoster(baseUrl: string, apiKey: string, maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const { hostname, port } = new URL(baseUrl);
  return {
    post(path: string, body: unknown): Promise<number> {
      const data = Buffer.from(JSON.stringify(body));
      const attempt = (retry: boolean): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = request(
            {
              agent,
              hostname,
              port,
              path,
              method: 'POST',
              timeout: 30_000,
              headers: { 'content-type': 'application/json', 'content-length': data.length, 'x-api-key': apiKey },
            },
            (res) => {
              res.resume();
              res.once('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.once('error', (err: NodeJS.ErrnoException) => {
            // The server may close an idle keep-alive connection just as it is reused: that
            // request never reached it, so it is sent once more on a fresh connection.
            if (retry && req.reusedSocket && err.code === 'ECONNRESET') resolve(attempt(false));
            else reject(err);
          });
          req.once('timeout', () => req.destroy(new Error(`POST ${path} timed out`)));
          req.end(data);
        });
      return attempt(true);
    },
    close(): void {
      agent.destroy();
    },
  };
}
