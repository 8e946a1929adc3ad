import { Agent, request } from 'node:http';

export interface PostAnswer {
  status: number;
  body: string;
}

/** Keep-alive POSTs of JSON from the orchestrator (the /notify publisher, soak traffic, inbox checks). */
export function createPoster(baseUrl: string, apiKey: string, maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const { hostname, port } = new URL(baseUrl);

  /** With `keepBody` false the answer's body is drained unread: the publishers only need the status. */
  const send = (path: string, body: unknown, keepBody: boolean): Promise<PostAnswer> => {
    const data = Buffer.from(JSON.stringify(body));
    const attempt = (retry: boolean): Promise<PostAnswer> =>
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
            const chunks: Buffer[] = [];
            if (keepBody) res.on('data', (chunk: Buffer) => chunks.push(chunk));
            else res.resume();
            res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
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
  };

  return {
    async post(path: string, body: unknown): Promise<number> {
      return (await send(path, body, false)).status;
    },
    /** Like post(), with the answer's body as text. */
    postForBody(path: string, body: unknown): Promise<PostAnswer> {
      return send(path, body, true);
    },
    close(): void {
      agent.destroy();
    },
  };
}
