/**
 * A tiny blob storage server, the kind registries redirect blob GETs to (S3, a CDN): on its
 * own loopback address (127.0.0.2 by default, so it is another host than the registry on
 * 127.0.0.1), serving `GET /storage/<digest>?X-Ferry-Signature=<secret>` from memory.
 *
 * The signature in the query is a stand-in for a presigned URL's secret: a request without
 * the right one gets 403, and tests check it never shows up in ferry's messages. `Range:
 * bytes=N-` is honoured (206). `failWith(status)` makes every request fail that way until
 * cleared. Every request is recorded with its Authorization header, if any.
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { listenEphemeral } from './ports.js';

export interface StorageRequest {
  method: string;
  url: string;
  /** The Authorization header as received (undefined when absent, which is the point). */
  authorization: string | undefined;
  range: string | undefined;
  status: number;
}

export interface BlobStorage {
  /** "127.0.0.2:PORT" */
  readonly host: string;
  /** The query parameter value every URL carries (a secret that must never be printed). */
  readonly signature: string;
  readonly requests: StorageRequest[];
  /** Stores `bytes` under `digest`; returns the absolute URL to redirect to. */
  put(digest: string, bytes: Buffer): string;
  /** Answers every request with `status` (e.g. 503), or serves normally again with undefined. */
  failWith(status: number | undefined): void;
  clearRequests(): void;
  stop(): Promise<void>;
}

/** Starts the storage server on `address` (default 127.0.0.2), ephemeral port. */
export async function startBlobStorage(address = '127.0.0.2'): Promise<BlobStorage> {
  const blobs = new Map<string, Buffer>();
  const requests: StorageRequest[] = [];
  const signature = randomBytes(12).toString('hex');
  let failure: number | undefined;

  const server = createServer((req, res) => {
    const rec: StorageRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      range: req.headers.range,
      status: 0,
    };
    requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    req.resume();
    if (failure !== undefined) {
      res.writeHead(failure, { 'content-type': 'text/plain' }).end('storage is failing on purpose (ferry e2e)\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://storage');
    const digest = /^\/storage\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)?.[1];
    const blob = digest ? blobs.get(digest) : undefined;
    if (!blob) return void res.writeHead(404).end();
    if (url.searchParams.get('X-Ferry-Signature') !== signature) return void res.writeHead(403).end('bad signature\n');
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    if (start >= blob.length && start > 0) return void res.writeHead(416).end();
    const body = blob.subarray(start);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) };
    if (start > 0) headers['content-range'] = `bytes ${start}-${blob.length - 1}/${blob.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const addr = { port: await listenEphemeral(server, address, 'blob storage') };
  const host = `${address}:${addr.port}`;
  return {
    host,
    signature,
    requests,
    put(digest, bytes) {
      blobs.set(digest, bytes);
      return `http://${host}/storage/${digest}?X-Ferry-Signature=${signature}`;
    },
    failWith: (s) => void (failure = s),
    clearRequests: () => void (requests.length = 0),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
