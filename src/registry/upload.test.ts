/**
 * uploadBlob against a small in-process upload endpoint (distribution's session rules: PATCH
 * appends at the session's offset and refuses a Content-Range that does not start there; the
 * closing PUT checks the digest), with a connection cut in the middle of one request body.
 * The real registry behind a cutting proxy is in test/e2e/push-faults.test.ts (monolithic PUT).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Registries } from './registries.js';
import { uploadBlob } from './upload.js';

interface Upload {
  id: number;
  data: Buffer[];
  size: number;
}

interface Endpoint {
  host: string;
  log: string[];
  stored: Map<string, Buffer>;
  /** Cut the body of the n-th request (1-based; every one without `nth`) with this method after `bytes`. */
  cut: { method: string; nth?: number; bytes: number } | undefined;
  /** Answer the n-th request with this method (every one without `nth`) with `status`, the body read. */
  fail: { method: string; nth?: number; status: number } | undefined;
  close(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  const uploads = new Map<number, Upload>();
  const stored = new Map<string, Buffer>();
  const log: string[] = [];
  const seen = new Map<string, number>();
  let next = 0;
  const ep: Partial<Endpoint> = { log, stored, cut: undefined, fail: undefined };
  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const url = new URL(req.url ?? '', 'http://x');
    const m = /^\/v2\/repo\/blobs\/uploads\/(\d+)$/.exec(url.pathname);
    const up = m ? uploads.get(Number(m[1])) : undefined;
    if (req.method === 'GET' && url.pathname === '/v2/') return void res.writeHead(200).end();
    if (req.method === 'HEAD') return void res.writeHead(stored.has(url.pathname.split('/').pop()!) ? 200 : 404).end();
    if (req.method === 'POST') {
      const u = { id: ++next, data: [], size: 0 };
      uploads.set(u.id, u);
      return void res.writeHead(202, { location: `/v2/repo/blobs/uploads/${u.id}` }).end();
    }
    if (!up) return void res.writeHead(404).end('{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
    if (req.method === 'DELETE') {
      uploads.delete(up.id);
      return void res.writeHead(204).end();
    }
    const range = req.headers['content-range'];
    if (req.method === 'PATCH' && range && Number(String(range).split('-')[0]) !== up.size) {
      return void res.writeHead(416).end('{"errors":[{"code":"BLOB_UPLOAD_INVALID"}]}');
    }
    up.data.push(body);
    up.size += body.length;
    if (req.method === 'PATCH') return void res.writeHead(202, { location: `/v2/repo/blobs/uploads/${up.id}`, range: `0-${up.size - 1}` }).end();
    const all = Buffer.concat(up.data);
    const digest = url.searchParams.get('digest')!;
    if (`sha256:${createHash('sha256').update(all).digest('hex')}` !== digest) return void res.writeHead(400).end('{"errors":[{"code":"DIGEST_INVALID"}]}');
    stored.set(digest, all);
    uploads.delete(up.id);
    res.writeHead(201).end();
  };
  const server: Server = createServer((req, res) => {
    const n = (seen.get(req.method ?? '') ?? 0) + 1;
    seen.set(req.method ?? '', n);
    const cut = ep.cut && ep.cut.method === req.method && (ep.cut.nth === undefined || ep.cut.nth === n) ? ep.cut : undefined;
    const fail = ep.fail && ep.fail.method === req.method && (ep.fail.nth === undefined || ep.fail.nth === n) ? ep.fail : undefined;
    log.push(`${req.method} ${req.url?.split('?')[0]}${cut ? ' (cut)' : ''}${fail ? ` (${fail.status})` : ''}`);
    const chunks: Buffer[] = [];
    let got = 0;
    req.on('data', (c: Buffer) => {
      if (cut && got + c.length >= cut.bytes) {
        // The part before the cut reaches the session, as it would in a real registry.
        const part = c.subarray(0, cut.bytes - got);
        const m = /uploads\/(\d+)/.exec(req.url ?? '');
        const up = m ? uploads.get(Number(m[1])) : undefined;
        if (up) {
          up.data.push(part);
          up.size += part.length;
        }
        req.socket.destroy();
        return;
      }
      got += c.length;
      chunks.push(c);
    });
    req.on('end', () => {
      if (!fail) return handle(req, res, Buffer.concat(chunks));
      // What a registry whose storage failed may do: keep the bytes in the session, answer 5xx.
      const m = /uploads\/(\d+)/.exec(req.url ?? '');
      const up = m ? uploads.get(Number(m[1])) : undefined;
      if (up) {
        up.data.push(Buffer.concat(chunks));
        up.size += got;
      }
      res.writeHead(fail.status).end('{"errors":[{"code":"UNKNOWN","message":"storage failed"}]}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ep.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  ep.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return ep as Endpoint;
}

describe('uploadBlob when a request body breaks mid-way', () => {
  const blob = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const open = (start: number, end: number): Readable => Readable.from([blob.subarray(start, end + 1)]);
  let ep: Endpoint | undefined;
  let registries: Registries | undefined;

  afterEach(async () => {
    await registries?.close();
    await ep?.close();
  });

  const client = async () => {
    ep = await startEndpoint();
    registries = new Registries({}, { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
    return registries.client(ep.host);
  };

  it('a PATCH cut in its body: the session is cancelled and the blob sent again in a new one', async () => {
    const c = await client();
    ep!.cut = { method: 'PATCH', nth: 2, bytes: 1000 };
    let bytes = 0;
    const outcome = await uploadBlob(c, 'repo', { mediaType: 'application/octet-stream', digest, size: blob.length }, { chunkSize: 4000, open, onBytes: (n) => (bytes += n) });
    expect(outcome).toBe('uploaded');
    expect(ep!.stored.get(digest)?.equals(blob)).toBe(true);
    expect(ep!.log).toEqual([
      'GET /v2/',
      `HEAD /v2/repo/blobs/${digest}`,
      'POST /v2/repo/blobs/uploads/',
      'PATCH /v2/repo/blobs/uploads/1',
      'PATCH /v2/repo/blobs/uploads/1 (cut)',
      'DELETE /v2/repo/blobs/uploads/1',
      'POST /v2/repo/blobs/uploads/',
      'PATCH /v2/repo/blobs/uploads/2',
      'PATCH /v2/repo/blobs/uploads/2',
      'PATCH /v2/repo/blobs/uploads/2',
      'PUT /v2/repo/blobs/uploads/2',
    ]);
    // Progress counts the blob once, however often its bytes were sent.
    expect(bytes).toBe(blob.length);
  });

  it('a monolithic PUT cut in its body goes to a new session, never again to the broken one', async () => {
    const c = await client();
    ep!.cut = { method: 'PUT', nth: 1, bytes: 3000 };
    const outcome = await uploadBlob(c, 'repo', { mediaType: 'application/octet-stream', digest, size: blob.length }, { open });
    expect(outcome).toBe('uploaded');
    expect(ep!.stored.get(digest)?.equals(blob)).toBe(true);
    expect(ep!.log.filter((l) => l.startsWith('PUT'))).toEqual(['PUT /v2/repo/blobs/uploads/1 (cut)', 'PUT /v2/repo/blobs/uploads/2']);
  });

  it('gives up after the retry attempts, with the network failure', async () => {
    const c = await client();
    ep!.cut = { method: 'PUT', bytes: 3000 };
    await expect(uploadBlob(c, 'repo', { mediaType: 'application/octet-stream', digest, size: blob.length }, { open })).rejects.toMatchObject({ code: 'NETWORK' });
    expect(ep!.log.filter((l) => l.startsWith('PUT'))).toHaveLength(3);
    expect(ep!.stored.size).toBe(0);
  });
});

describe('uploadBlob when the registry answers an upload request with an error status', () => {
  const blob = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) % 251));
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const open = (start: number, end: number): Readable => Readable.from([blob.subarray(start, end + 1)]);
  let ep: Endpoint | undefined;
  let registries: Registries | undefined;

  afterEach(async () => {
    await registries?.close();
    await ep?.close();
  });

  const client = async () => {
    ep = await startEndpoint();
    registries = new Registries({}, { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
    return registries.client(ep.host);
  };

  it.each([500, 503, 429])('a PUT answered %i goes to a new session, never again to the old one', async (status) => {
    const c = await client();
    ep!.fail = { method: 'PUT', nth: 1, status };
    const outcome = await uploadBlob(c, 'repo', { mediaType: 'application/octet-stream', digest, size: blob.length }, { open });
    expect(outcome).toBe('uploaded');
    expect(ep!.stored.get(digest)?.equals(blob)).toBe(true);
    expect(ep!.log).toEqual([
      'GET /v2/',
      `HEAD /v2/repo/blobs/${digest}`,
      'POST /v2/repo/blobs/uploads/',
      `PUT /v2/repo/blobs/uploads/1 (${status})`,
      'DELETE /v2/repo/blobs/uploads/1',
      'POST /v2/repo/blobs/uploads/',
      'PUT /v2/repo/blobs/uploads/2',
    ]);
  });

  it('a PATCH answered 502 restarts the blob in a new session', async () => {
    const c = await client();
    ep!.fail = { method: 'PATCH', nth: 2, status: 502 };
    const outcome = await uploadBlob(c, 'repo', { mediaType: 'application/octet-stream', digest, size: blob.length }, { chunkSize: 4000, open });
    expect(outcome).toBe('uploaded');
    expect(ep!.stored.get(digest)?.equals(blob)).toBe(true);
    expect(ep!.log.filter((l) => !l.startsWith('PATCH /v2/repo/blobs/uploads/2'))).toEqual([
      'GET /v2/',
      `HEAD /v2/repo/blobs/${digest}`,
      'POST /v2/repo/blobs/uploads/',
      'PATCH /v2/repo/blobs/uploads/1',
      'PATCH /v2/repo/blobs/uploads/1 (502)',
      'DELETE /v2/repo/blobs/uploads/1',
      'POST /v2/repo/blobs/uploads/',
      'PUT /v2/repo/blobs/uploads/2',
    ]);
  });

  it('a PUT answered 400 fails at once with the registry error, naming the request', async () => {
    const c = await client();
    ep!.fail = { method: 'PUT', status: 400 };
    await expect(uploadBlob(c, 'repo', { mediaType: 'application/octet-stream', digest, size: blob.length }, { open })).rejects.toMatchObject({
      code: 'REGISTRY',
      status: 400,
      message: `pushing blob ${digest} to ${ep!.host}/repo: PUT http://${ep!.host}/v2/repo/blobs/uploads/1: HTTP 400 UNKNOWN: storage failed`,
    });
    expect(ep!.log.filter((l) => l.startsWith('PUT'))).toEqual(['PUT /v2/repo/blobs/uploads/1 (400)']);
  });

  it('gives up after the retry attempts with the last status', async () => {
    const c = await client();
    ep!.fail = { method: 'PUT', status: 503 };
    await expect(uploadBlob(c, 'repo', { mediaType: 'application/octet-stream', digest, size: blob.length }, { open })).rejects.toMatchObject({ code: 'REGISTRY', status: 503 });
    expect(ep!.log.filter((l) => l.startsWith('PUT'))).toHaveLength(3);
    expect(ep!.stored.size).toBe(0);
  });
});
