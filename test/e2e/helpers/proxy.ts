/**
 * A scripted reverse proxy (node:http, 127.0.0.1, ephemeral port) in front of a real registry,
 * for protocol corners no real server produces on demand. It forwards every request as is
 * (the Host header too, so Location headers point back at the proxy) and streams bodies, with
 * switchable faults:
 *
 * - corruptBlob(digest): every GET of /v2/<name>/blobs/<digest> has one byte flipped, in the
 *   middle of the body (persistent, so retries fail too).
 * - resetBlobOnce(digest, afterBytes): the next GET of that blob sends the headers and
 *   `afterBytes` bytes of body, then the socket is destroyed.
 * - tooManyRequestsOnce(pathRegex, seconds): the next request whose path matches gets
 *   429 TOOMANYREQUESTS with `Retry-After: seconds` and is not forwarded.
 *
 * Every request is recorded (method, url, Range header, status, arrival time) in `requests`.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenEphemeral } from './ports.js';

export interface RecordedRequest {
  method: string;
  url: string;
  range: string | undefined;
  /** Status sent to the client (0 if the client went away first). */
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
  /** Which fault, if any, was applied. */
  fault?: 'corrupt' | 'reset' | '429';
}

export interface FaultProxy {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  readonly requests: RecordedRequest[];
  corruptBlob(digest: string): void;
  resetBlobOnce(digest: string, afterBytes: number): void;
  tooManyRequestsOnce(path: RegExp, retryAfterSeconds: number): void;
  /** Removes all pending faults. */
  clearFaults(): void;
  /** Forgets the recorded requests. */
  clearRequests(): void;
  /** Requests whose path is a blob GET for `digest`. */
  blobGets(digest: string): RecordedRequest[];
  stop(): Promise<void>;
}

interface Faults {
  corrupt: Set<string>;
  reset: Map<string, number>;
  tooMany: { path: RegExp; seconds: number }[];
}

/** Starts a proxy to `upstream` (e.g. "127.0.0.1:5000"). Throws if it cannot listen. */
export async function startProxy(upstream: string): Promise<FaultProxy> {
  const [upHost, upPort] = upstream.split(':');
  const faults: Faults = { corrupt: new Set(), reset: new Map(), tooMany: [] };
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const rec: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      range: req.headers.range,
      status: 0,
      at: Date.now(),
    };
    requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    res.on('close', () => (rec.status ||= res.headersSent ? res.statusCode : 0));
    handle(req, res, rec, faults, upHost ?? '127.0.0.1', Number(upPort));
  });
  const addr = { port: await listenEphemeral(server, '127.0.0.1', 'proxy') };
  return {
    host: `127.0.0.1:${addr.port}`,
    requests,
    corruptBlob: (d) => void faults.corrupt.add(d),
    resetBlobOnce: (d, n) => void faults.reset.set(d, n),
    tooManyRequestsOnce: (path, seconds) => void faults.tooMany.push({ path, seconds }),
    clearFaults() {
      faults.corrupt.clear();
      faults.reset.clear();
      faults.tooMany.length = 0;
    },
    clearRequests: () => void (requests.length = 0),
    blobGets: (d) => requests.filter((r) => r.method === 'GET' && blobDigest(r.url) === d),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The digest in a /v2/<name>/blobs/<digest> path, or undefined. */
function blobDigest(url: string): string | undefined {
  return /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})(?:\?.*)?$/.exec(url)?.[1];
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  rec: RecordedRequest,
  faults: Faults,
  upHost: string,
  upPort: number,
): void {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const limit = faults.tooMany.findIndex((f) => f.path.test(path));
  if (limit >= 0) {
    const [f] = faults.tooMany.splice(limit, 1);
    rec.fault = '429';
    req.resume();
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(f!.seconds) });
    res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down (ferry e2e proxy)' }] }));
    return;
  }
  const digest = req.method === 'GET' ? blobDigest(req.url ?? '') : undefined;
  const up = httpRequest(
    { host: upHost, port: upPort, method: req.method, path: req.url, headers: req.headers },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      const ok = upRes.statusCode === 200 || upRes.statusCode === 206;
      if (digest && ok && faults.reset.has(digest)) {
        const after = faults.reset.get(digest)!;
        faults.reset.delete(digest);
        rec.fault = 'reset';
        return cutAfter(upRes, res, after);
      }
      if (digest && ok && faults.corrupt.has(digest)) {
        rec.fault = 'corrupt';
        return flipMiddleByte(upRes, res);
      }
      upRes.pipe(res);
    },
  );
  up.on('error', () => res.destroy());
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/** Forwards `n` body bytes, then destroys the client socket as a network failure would. */
function cutAfter(upRes: IncomingMessage, res: ServerResponse, n: number): void {
  let sent = 0;
  upRes.on('data', (chunk: Buffer) => {
    if (sent >= n) return;
    const part = chunk.subarray(0, n - sent);
    sent += part.length;
    if (sent < n) {
      res.write(part);
      return;
    }
    upRes.destroy();
    res.write(part, () => res.socket?.destroy());
  });
  upRes.on('end', () => res.end());
}

/** Forwards the body with the byte at offset length/2 inverted (offset 0 without a length). */
function flipMiddleByte(upRes: IncomingMessage, res: ServerResponse): void {
  const target = Math.floor(Number(upRes.headers['content-length'] ?? 0) / 2);
  let offset = 0;
  upRes.on('data', (chunk: Buffer) => {
    if (target >= offset && target < offset + chunk.length) {
      const copy = Buffer.from(chunk);
      copy[target - offset]! ^= 0xff;
      chunk = copy;
    }
    offset += chunk.length;
    res.write(chunk);
  });
  upRes.on('end', () => res.end());
}
