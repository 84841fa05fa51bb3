/**
 * A scripted reverse proxy (node:http, 127.0.0.1, ephemeral port) in front of a real registry,
 * for protocol corners no real registry produces on demand: a redirect of blob GETs to another
 * host, a schema1 manifest, other bytes than a digest names, 503s, a 401 for a token.
 *
 * A script is a function from the request to an action, or undefined to forward it as is
 * (headers included, the Host header too, so the registry's Location headers name the proxy):
 *
 * - `{ kind: 'reply', status, headers, body }` answers without asking the registry;
 * - `{ kind: 'offload', storage }` forwards the request; a 200 answer's body is put into the
 *   blob storage and the client gets `307 Location: <storage URL>` instead, as a registry on
 *   S3 does (distribution's `redirect` middleware). Anything but 200 passes through;
 * - `{ kind: 'cut-body', afterBytes }` forwards the request but only the first `afterBytes`
 *   bytes of its body, then destroys both connections: an upload whose connection broke
 *   mid-body, with the registry holding the part it got.
 *
 * Every request is recorded with its Authorization header and the action taken.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { BlobStorage } from './transport-blob-storage.js';
import { listenEphemeral } from './ports.js';

export interface ScriptedRequest {
  method: string;
  /** The request target as received (path and query). */
  url: string;
  /** The path without the query. */
  path: string;
  headers: IncomingHttpHeaders;
}

export type Action =
  | { kind: 'reply'; status: number; headers?: Record<string, string>; body?: string | Buffer }
  | { kind: 'offload'; storage: BlobStorage }
  | { kind: 'cut-body'; afterBytes: number };

export type Script = (req: ScriptedRequest) => Action | undefined;

export interface ScriptedRecord {
  method: string;
  url: string;
  authorization: string | undefined;
  /** Status sent to the client (0 if it went away first). */
  status: number;
  action: 'forward' | 'reply' | 'offload' | 'cut-body';
  /** Date.now() on arrival. */
  at: number;
}

export interface ScriptedProxy {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  readonly requests: ScriptedRecord[];
  /** Replaces the script (undefined: forward everything). */
  setScript(script: Script | undefined): void;
  clearRequests(): void;
  stop(): Promise<void>;
}

/** Starts a proxy to `upstream` ("127.0.0.1:PORT"). Throws if it cannot listen. */
export async function startScriptedProxy(upstream: string): Promise<ScriptedProxy> {
  const [upHost, upPort] = upstream.split(':');
  const requests: ScriptedRecord[] = [];
  let script: Script | undefined;
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const sreq: ScriptedRequest = { method: req.method ?? '', url, path: url.split('?')[0] ?? '', headers: req.headers };
    const action = script?.(sreq);
    const rec: ScriptedRecord = {
      method: sreq.method,
      url,
      authorization: req.headers.authorization,
      status: 0,
      action: action?.kind ?? 'forward',
      at: Date.now(),
    };
    requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    res.on('close', () => (rec.status ||= res.headersSent ? res.statusCode : 0));
    if (action?.kind === 'reply') {
      req.resume();
      res.writeHead(action.status, action.headers ?? {});
      res.end(req.method === 'HEAD' ? undefined : action.body);
      return;
    }
    if (action?.kind === 'cut-body') {
      cutBody(req, res, upHost ?? '127.0.0.1', Number(upPort), action.afterBytes);
      return;
    }
    forward(req, res, upHost ?? '127.0.0.1', Number(upPort), action?.kind === 'offload' ? action.storage : undefined);
  });
  const addr = { port: await listenEphemeral(server, '127.0.0.1', 'scripted proxy') };
  return {
    host: `127.0.0.1:${addr.port}`,
    requests,
    setScript: (s) => void (script = s),
    clearRequests: () => void (requests.length = 0),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function forward(req: IncomingMessage, res: ServerResponse, host: string, port: number, storage: BlobStorage | undefined): void {
  const up = httpRequest({ host, port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec((req.url ?? '').split('?')[0] ?? '')?.[1];
    if (!storage || !digest || upRes.statusCode !== 200 || req.method !== 'GET') {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    upRes.on('data', (c: Buffer) => chunks.push(c));
    upRes.on('end', () => {
      const location = storage.put(digest, Buffer.concat(chunks));
      res.writeHead(307, { location, 'content-length': '0' });
      res.end();
    });
  });
  up.on('error', () => res.destroy());
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/**
 * Forwards the headers and `n` body bytes to the registry, waits a moment so it stores them,
 * then destroys the upstream request and the client socket, as a network failure would.
 */
function cutBody(req: IncomingMessage, res: ServerResponse, host: string, port: number, n: number): void {
  const up = httpRequest({ host, port, method: req.method, path: req.url, headers: req.headers });
  up.on('error', () => undefined);
  up.on('response', (r) => r.resume());
  let sent = 0;
  let cut = false;
  req.on('data', (chunk: Buffer) => {
    if (cut) return;
    const part = chunk.subarray(0, Math.max(0, n - sent));
    sent += part.length;
    if (part.length) up.write(part);
    if (sent < n) return;
    cut = true;
    req.pause();
    setTimeout(() => {
      up.destroy();
      res.socket?.destroy();
    }, 200);
  });
}

/** A script that applies `action` to the first `n` requests `match` accepts, then forwards. */
export function firstN(n: number, match: Matcher, action: Action): Script {
  let left = n;
  return (r) => {
    if (left <= 0 || !match(r)) return undefined;
    left--;
    return action;
  };
}

/** What the matchers look at: a live request or a recorded one. */
export type Matcher = (r: { method: string; url: string }) => boolean;

/** Matches GETs of `/v2/<repo>/manifests/<ref>` (ref omitted: any). */
export function manifestGet(repo: string, ref?: string): Matcher {
  return (r) => r.method === 'GET' && pathMatches(r.url, `/v2/${repo}/manifests/`, ref);
}

/** Matches GETs of `/v2/<repo>/blobs/<digest>` (digest omitted: any). */
export function blobGet(repo: string, digest?: string): Matcher {
  return (r) => r.method === 'GET' && pathMatches(r.url, `/v2/${repo}/blobs/`, digest);
}

function pathMatches(url: string, prefix: string, last: string | undefined): boolean {
  const path = url.split('?')[0] ?? '';
  return last ? path === `${prefix}${last}` : path.startsWith(prefix) && !path.slice(prefix.length).includes('/');
}
