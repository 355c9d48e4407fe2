/**
 * A loopback HTTP proxy in front of the local Upstash endpoint that can lose a reply: the request
 * reaches Redis and runs, then the proxy closes the client's connection instead of answering, as a
 * network failure after the fact would. `@upstash/redis` (at its default retry) then sends the same
 * request again, which is what every script must survive (issue 9, item 3).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  path: string;
  body: string;
  /** The reply was dropped (Redis ran the request; the client saw the connection close). */
  dropped: boolean;
}

export interface DroppingProxy {
  url: string;
  /** Every request forwarded, in order (a retry is one more). */
  readonly requests: ProxiedRequest[];
  /**
   * Drop the reply of the next request whose body matches. `between` runs after Redis answered and
   * before the client's connection is closed (another worker acting in between).
   */
  dropNextReply(match: (body: string) => boolean, between?: () => Promise<void>): void;
  close(): Promise<void>;
}

/** Matches a request carrying a script, by its digest (EVALSHA) or its source's header (EVAL). */
export const carries =
  (script: { name: string; sha1: string }) =>
  (body: string): boolean =>
    body.includes(script.sha1) || body.includes(`--[[ spool:${script.name}\\n`);

const HOP = new Set(['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding']);

export async function startDroppingProxy(upstream: string): Promise<DroppingProxy> {
  const requests: ProxiedRequest[] = [];
  let pending: { match: (body: string) => boolean; between?: () => Promise<void> } | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && typeof v === 'string') headers[k] = v;
        const up = await fetch(new URL(req.url ?? '/', upstream), { method: req.method ?? 'POST', headers, body });
        const text = await up.text();
        const drop = pending?.match(body) === true;
        requests.push({ path: req.url ?? '/', body, dropped: drop });
        if (drop) {
          const between = pending!.between;
          pending = undefined;
          await between?.();
          req.socket.destroy();
          return;
        }
        const out: Record<string, string> = {};
        up.headers.forEach((v, k) => {
          if (!HOP.has(k) && k !== 'content-encoding') out[k] = v;
        });
        res.writeHead(up.status, out).end(text);
      })().catch((err: unknown) => {
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    dropNextReply(match, between) {
      pending = between ? { match, between } : { match };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
