/**
 * A recording reverse proxy (node:http, 127.0.0.1, ephemeral port) in front of a real registry
 * that can hold a blob download still in the middle of its body, for the tests that need a
 * ferry run to be "in the middle of a download" on demand: kill -9 while a partial file is half
 * written, or start a second run while the first one holds the bundle's lock.
 *
 * - pauseBlobOnce(digest, afterBytes): the next GET of /v2/<name>/blobs/<digest> answered 200
 *   or 206 forwards the headers and `afterBytes` bytes of body, then sends nothing more (the
 *   connection stays open) until release(). `paused(digest)` resolves once that point is
 *   reached. If the client goes away while held, the upstream request is dropped too.
 * - release(): lets every held body continue (and cancels pauses that have not started).
 *
 * Everything else is forwarded as is (Host header included, so the registry's Location headers
 * point back at the proxy). Every request is recorded with its Range header, status and time.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenEphemeral } from './ports.js';

export interface ProxiedRequest {
  method: string;
  url: string;
  range: string | undefined;
  /** Status sent to the client (0 if the client went away before headers were sent). */
  status: number;
  at: number;
  /** True when this response was held by a pause. */
  paused?: boolean;
}

export interface SlowProxy {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  readonly requests: ProxiedRequest[];
  pauseBlobOnce(digest: string, afterBytes: number): void;
  /** Resolves when a GET of `digest` has forwarded its `afterBytes` and is being held. */
  paused(digest: string): Promise<void>;
  /** Lets held bodies continue and forgets pending pauses. */
  release(): void;
  clearRequests(): void;
  /** Recorded GETs of /v2/<name>/blobs/<digest>. */
  blobGets(digest: string): ProxiedRequest[];
  /** Recorded requests whose path starts with /v2/. */
  v2Requests(): ProxiedRequest[];
  stop(): Promise<void>;
}

interface PauseState {
  pending: Map<string, number>;
  reached: Map<string, { promise: Promise<void>; resolve: () => void }>;
  gate: { promise: Promise<void>; resolve: () => void };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Starts the proxy in front of `upstream` ("127.0.0.1:PORT"). Throws if it cannot listen. */
export async function startSlowProxy(upstream: string): Promise<SlowProxy> {
  const [upHost, upPort] = upstream.split(':');
  const requests: ProxiedRequest[] = [];
  const state: PauseState = { pending: new Map(), reached: new Map(), gate: deferred() };
  const reachedFor = (d: string) => {
    let r = state.reached.get(d);
    if (!r) state.reached.set(d, (r = deferred()));
    return r;
  };
  const server = createServer((req, res) => {
    const rec: ProxiedRequest = { method: req.method ?? '', url: req.url ?? '', range: req.headers.range, status: 0, at: Date.now() };
    requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    res.on('close', () => (rec.status ||= res.headersSent ? res.statusCode : 0));
    forward(req, res, rec, upHost ?? '127.0.0.1', Number(upPort), state, reachedFor);
  });
  const addr = { port: await listenEphemeral(server, '127.0.0.1', 'slow proxy') };
  return {
    host: `127.0.0.1:${addr.port}`,
    requests,
    pauseBlobOnce(digest, afterBytes) {
      state.pending.set(digest, afterBytes);
      state.reached.delete(digest);
    },
    paused: (d) => reachedFor(d).promise,
    release() {
      state.pending.clear();
      state.gate.resolve();
      state.gate = deferred();
    },
    clearRequests: () => void (requests.length = 0),
    blobGets: (d) => requests.filter((r) => r.method === 'GET' && blobDigest(r.url) === d),
    v2Requests: () => requests.filter((r) => r.url.startsWith('/v2/')),
    stop: () =>
      new Promise<void>((resolve) => {
        state.gate.resolve();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The digest in a /v2/<name>/blobs/<digest> path, or undefined. */
export function blobDigest(url: string): string | undefined {
  return /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})(?:\?.*)?$/.exec(url)?.[1];
}

function forward(
  req: IncomingMessage,
  res: ServerResponse,
  rec: ProxiedRequest,
  upHost: string,
  upPort: number,
  state: PauseState,
  reachedFor: (d: string) => { resolve: () => void },
): void {
  const digest = req.method === 'GET' ? blobDigest(req.url ?? '') : undefined;
  const up = httpRequest({ host: upHost, port: upPort, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    const ok = upRes.statusCode === 200 || upRes.statusCode === 206;
    const after = digest && ok ? state.pending.get(digest) : undefined;
    if (digest && after !== undefined) {
      state.pending.delete(digest);
      rec.paused = true;
      void holdAfter(upRes, res, after, state.gate.promise, () => reachedFor(digest).resolve());
      return;
    }
    upRes.pipe(res);
  });
  up.on('error', () => res.destroy());
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/** Forwards `after` bytes, calls `onHeld`, waits for `gate` (or the client to leave), then the rest. */
async function holdAfter(upRes: IncomingMessage, res: ServerResponse, after: number, gate: Promise<void>, onHeld: () => void): Promise<void> {
  const closed = new Promise<void>((r) => res.once('close', () => r()));
  const write = async (b: Buffer): Promise<void> => {
    if (b.length && !res.write(b)) await Promise.race([new Promise<void>((r) => res.once('drain', () => r())), closed]);
  };
  let sent = 0;
  let held = false;
  try {
    for await (const chunk of upRes as AsyncIterable<Buffer>) {
      let c = chunk;
      if (!held && sent + c.length >= after) {
        const head = c.subarray(0, after - sent);
        await write(head);
        sent += head.length;
        held = true;
        onHeld();
        await Promise.race([gate, closed]);
        if (res.destroyed) return;
        c = c.subarray(head.length);
      }
      sent += c.length;
      await write(c);
      if (res.destroyed) return;
    }
    res.end();
  } catch {
    res.destroy();
  }
}
