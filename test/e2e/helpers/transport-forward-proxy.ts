/**
 * A forward HTTP proxy (what HTTPS_PROXY / HTTP_PROXY point at) on 127.0.0.1, in-process:
 *
 * - `CONNECT host:port` opens a TCP tunnel (RFC 9110 section 9.3.6), used for HTTPS and, by
 *   undici's ProxyAgent, for plain HTTP too;
 * - `GET http://host:port/path` (absolute-form request target, RFC 9112 section 3.2.2) is
 *   forwarded as an origin-form request.
 *
 * `routes` maps a requested "host:port" to the "host:port" actually dialled, so a test can
 * name a registry that only the proxy can reach (`registry.test:443` -> `127.0.0.1:PORT`)
 * without touching /etc/hosts. With `auth`, requests without the right
 * `Proxy-Authorization: Basic` get 407 and are not forwarded.
 *
 * Every request is recorded, with the bytes carried each way.
 *
 * undici's ProxyAgent (behind EnvHttpProxyAgent) tunnels with CONNECT for http:// targets as
 * well (`proxyTunnel` defaults to true), so ferry never sends the absolute form; it is served
 * here because plain-HTTP clients (curl, Go) do.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Credentials } from './token-issuer.js';
import { listenEphemeral } from './ports.js';

export interface ProxiedRequest {
  kind: 'connect' | 'forward';
  /** "host:port" for CONNECT, the absolute URL for a forwarded request. */
  target: string;
  /** The "host:port" dialled (after `routes`). */
  dialled: string;
  /** Whether the request carried the expected Proxy-Authorization (always true without `auth`). */
  authorized: boolean;
  /** Status the proxy answered (200 for an established tunnel, 407, 502, or the upstream's). */
  status: number;
  /** Bytes from the upstream to the client (response bodies, or tunnel traffic). */
  bytesDown: number;
}

export interface ForwardProxy {
  /** "http://127.0.0.1:PORT" (for HTTP_PROXY / HTTPS_PROXY). */
  readonly url: string;
  readonly port: number;
  readonly requests: ProxiedRequest[];
  clearRequests(): void;
  /** Requests whose target names `hostPort`. */
  requestsFor(hostPort: string): ProxiedRequest[];
  stop(): Promise<void>;
}

export interface ForwardProxyOptions {
  routes?: Record<string, string>;
  auth?: Credentials;
}

/** Starts the proxy. Throws if it cannot listen. */
export async function startForwardProxy(opts: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const keep = (s: Socket): Socket => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    return s;
  };
  const dial = (target: string): string => opts.routes?.[target] ?? target;
  const authorized = (req: IncomingMessage): boolean => {
    if (!opts.auth) return true;
    const expected = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`;
    return req.headers['proxy-authorization'] === expected;
  };

  const server = createServer((req, res) => {
    keep(req.socket);
    const target = req.url ?? '';
    const rec: ProxiedRequest = { kind: 'forward', target, dialled: '', authorized: authorized(req), status: 0, bytesDown: 0 };
    requests.push(rec);
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      rec.status = 400;
      res.writeHead(400).end('absolute-form request target expected\n');
      return;
    }
    if (!rec.authorized) {
      rec.status = 407;
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="ferry-e2e-proxy"' }).end();
      return;
    }
    rec.dialled = dial(url.host.includes(':') ? url.host : `${url.host}:80`);
    const [host, port] = splitHostPort(rec.dialled);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !k.startsWith('proxy-')));
    const up = httpRequest({ host, port, method: req.method, path: `${url.pathname}${url.search}`, headers }, (upRes) => {
      rec.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.on('data', (c: Buffer) => (rec.bytesDown += c.length));
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead((rec.status = 502)).end();
      else res.destroy();
    });
    req.pipe(up);
  });

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    keep(client);
    const target = req.url ?? '';
    const rec: ProxiedRequest = { kind: 'connect', target, dialled: dial(target), authorized: authorized(req), status: 0, bytesDown: 0 };
    requests.push(rec);
    client.on('error', () => undefined);
    if (!rec.authorized) {
      rec.status = 407;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="ferry-e2e-proxy"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = splitHostPort(rec.dialled);
    const up = keep(connect(port, host));
    up.on('connect', () => {
      rec.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.on('data', (c: Buffer) => (rec.bytesDown += c.length));
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => {
      if (rec.status === 0) {
        rec.status = 502;
        client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      } else client.destroy();
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });

  const addr = { port: await listenEphemeral(server, '127.0.0.1', 'forward proxy') };
  return {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    requests,
    clearRequests: () => void (requests.length = 0),
    requestsFor: (hostPort) =>
      requests.filter((r) => r.target === hostPort || (r.kind === 'forward' && r.target.startsWith(`http://${hostPort}/`))),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** "host:port" or "[v6]:port" -> [host, port]. */
function splitHostPort(hostPort: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hostPort);
  if (!m) throw new Error(`forward proxy: "${hostPort}" is not host:port`);
  return [m[1]!, Number(m[2])];
}
