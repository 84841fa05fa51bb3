/**
 * RegistryClient.send's decisions (redirects, auth, retries, error text) against real
 * node:http servers on ephemeral loopback ports: a registry, a second host standing for blob
 * storage, and a token issuer. Each server answers from a script and logs what it was sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FerryError } from '../errors.js';
import { RegistryClient, RegistryStatusError } from './client.js';
import type { Credential } from './credentials.js';
import { onRetry, type RetryEvent, type RetryPolicy } from './retry.js';
import { Transport } from './transport.js';

interface Seen {
  method: string;
  /** Path and query as sent. */
  url: string;
  authorization: string | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

interface Server {
  host: string;
  url: string;
  log: Seen[];
  /** The requests other than the /v2/ ping. */
  calls(): Seen[];
  close(): Promise<void>;
}

const servers: Server[] = [];
let transport: Transport | undefined;

/** Starts a server on 127.0.0.1:<ephemeral> that answers GET /v2/ with `ping` and the rest with `handler`. */
async function serve(handler: Handler, ping: Handler = (_q, res) => void res.writeHead(200).end('{}')): Promise<Server> {
  const log: Seen[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const seen = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization };
    log.push(seen);
    req.resume();
    req.on('end', () => (req.url === '/v2/' ? ping(req, res, 0) : handler(req, res, ++n)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s: Server = {
    host,
    url: `http://${host}`,
    log,
    calls: () => log.filter((l) => l.url !== '/v2/'),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

const POLICY: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

function clientFor(s: Server, credential?: Credential, policy: RetryPolicy = POLICY): RegistryClient {
  transport ??= new Transport({});
  return new RegistryClient(s.host, transport, policy, async () => credential);
}

const get = (c: RegistryClient, path: string, extra: { accept?: number[]; method?: 'GET' | 'HEAD' | 'PUT' } = {}) =>
  c.send({ method: extra.method ?? 'GET', path, scopes: ['repository:repo:pull'], accept: extra.accept ?? [200], what: 'fetching x' }).then(async (r) => {
    const text = extra.method === 'HEAD' ? '' : await r.body.text();
    return { status: r.status, text, url: r.url.toString() };
  });

/** The error `p` rejects with; fails the test when it resolves. */
async function failure(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the request succeeded').toBeInstanceOf(FerryError);
  return err as FerryError;
}

const basicChallenge: Handler = (req, res) => {
  if (req.headers.authorization) return void res.writeHead(200).end('{}');
  res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
};

afterEach(async () => {
  await transport?.close();
  transport = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('redirects', () => {
  it('token is not sent to another host on redirect; the registry got it, the query reaches storage', async () => {
    const storage = await serve((_q, res) => void res.writeHead(200).end('blob bytes'));
    const reg = await serve((req, res) => {
      if (!req.headers.authorization) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
      res.writeHead(307, { location: `${storage.url}/data/abc?X-Amz-Signature=secret` }).end();
    }, basicChallenge);
    const r = await get(clientFor(reg, { username: 'u', password: 'p' }), '/v2/repo/blobs/sha256:abc');
    expect(r).toMatchObject({ status: 200, text: 'blob bytes' });
    expect(reg.calls()).toEqual([{ method: 'GET', url: '/v2/repo/blobs/sha256:abc', authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }]);
    expect(storage.log).toEqual([{ method: 'GET', url: '/data/abc?X-Amz-Signature=secret', authorization: undefined }]);
  });

  it('a Bearer token is not sent to another host on redirect either, nor after it comes back', async () => {
    const issuer = await serve((_q, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"tok"}'));
    let reg: Server | undefined;
    const storage = await serve((_q, res) => void res.writeHead(302, { location: `${reg!.url}/v2/repo/blobs/back` }).end());
    const challenge = `Bearer realm="${issuer.url}/token",service="svc"`;
    reg = await serve(
      (req, res) => {
        if (req.headers.authorization !== 'Bearer tok' && req.url !== '/v2/repo/blobs/back') return void res.writeHead(401, { 'www-authenticate': challenge }).end();
        if (req.url === '/v2/repo/blobs/back') return void res.writeHead(200).end('after the round trip');
        res.writeHead(307, { location: `${storage.url}/elsewhere` }).end();
      },
      (_q, res) => void res.writeHead(401, { 'www-authenticate': challenge }).end(),
    );
    const r = await get(clientFor(reg), '/v2/repo/blobs/sha256:abc');
    expect(r).toMatchObject({ status: 200, text: 'after the round trip' });
    expect(reg.calls().map((c) => c.authorization)).toEqual(['Bearer tok', undefined]);
    expect(storage.log.map((c) => c.authorization)).toEqual([undefined]);
  });

  it('a redirect to the same host keeps Authorization', async () => {
    const reg = await serve((req, res) => {
      if (!req.headers.authorization) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
      if (req.url === '/v2/repo/blobs/a') return void res.writeHead(301, { location: '/v2/repo/blobs/b' }).end();
      res.writeHead(200).end('b');
    }, basicChallenge);
    await get(clientFor(reg, { username: 'u', password: 'p' }), '/v2/repo/blobs/a');
    expect(reg.calls().map((c) => [c.url, c.authorization !== undefined])).toEqual([
      ['/v2/repo/blobs/a', true],
      ['/v2/repo/blobs/b', true],
    ]);
  });

  it('303 turns the request into a GET', async () => {
    const reg = await serve((req, res) => {
      if (req.method === 'PUT') return void res.writeHead(303, { location: '/done' }).end();
      res.writeHead(200).end(req.method);
    });
    const r = await get(clientFor(reg), '/v2/repo/x', { method: 'PUT' });
    expect(r.text).toBe('GET');
    expect(reg.calls().map((c) => `${c.method} ${c.url}`)).toEqual(['PUT /v2/repo/x', 'GET /done']);
  });

  it('a redirect without Location is a REGISTRY error naming method and URL', async () => {
    const reg = await serve((_q, res) => void res.writeHead(302).end());
    await expect(get(clientFor(reg), '/v2/repo/blobs/x?token=secret')).rejects.toMatchObject({
      code: 'REGISTRY',
      message: `fetching x: GET ${reg.url}/v2/repo/blobs/x: redirect without a Location`,
    });
  });

  it('a redirect loop stops after five hops', async () => {
    const reg = await serve((req, res, n) => void res.writeHead(302, { location: `/v2/hop/${n}` }).end());
    await expect(get(clientFor(reg), '/v2/hop/0')).rejects.toMatchObject({ code: 'REGISTRY', message: expect.stringContaining('HTTP 302') });
    expect(reg.calls()).toHaveLength(6);
  });
});

describe('auth', () => {
  it('a 401 with a Bearer challenge gets a token (scope and service) and retries with it', async () => {
    const issuer = await serve((_q, res) => void res.writeHead(200).end('{"access_token":"t1","expires_in":300}'));
    const challenge = `Bearer realm="${issuer.url}/token",service="registry.test"`;
    // The /v2/ ping is open: the challenge first comes with the request itself.
    const reg = await serve((req, res) => {
      if (req.headers.authorization === 'Bearer t1') return void res.writeHead(200).end('ok');
      res.writeHead(401, { 'www-authenticate': challenge }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    });
    const r = await get(clientFor(reg), '/v2/repo/manifests/1');
    expect(r).toMatchObject({ status: 200, text: 'ok' });
    expect(reg.calls().map((c) => c.authorization)).toEqual([undefined, 'Bearer t1']);
    expect(issuer.log).toEqual([{ method: 'GET', url: '/token?service=registry.test&scope=repository%3Arepo%3Apull', authorization: undefined }]);
  });

  it('the token fetch sends the credential as Basic to the realm', async () => {
    const issuer = await serve((req, res) => void res.writeHead(req.headers.authorization ? 200 : 401).end('{"token":"t"}'));
    const reg = await serve(
      (req, res) => void res.writeHead(req.headers.authorization === 'Bearer t' ? 200 : 401).end(),
      (_q, res) => void res.writeHead(401, { 'www-authenticate': `Bearer realm="${issuer.url}/token"` }).end(),
    );
    await get(clientFor(reg, { username: 'alice', password: 'pw' }), '/v2/repo/manifests/1');
    expect(issuer.log[0]?.authorization).toBe(`Basic ${Buffer.from('alice:pw').toString('base64')}`);
  });

  it('a token the registry no longer takes is fetched again once; a second 401 is AUTH, not a loop', async () => {
    let issued = 0;
    const issuer = await serve((_q, res) => void res.writeHead(200).end(JSON.stringify({ token: `t${++issued}` })));
    const challenge = `Bearer realm="${issuer.url}/token",service="svc"`;
    const reg = await serve(
      (_q, res) => void res.writeHead(401, { 'www-authenticate': challenge }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'),
      (_q, res) => void res.writeHead(401, { 'www-authenticate': challenge }).end(),
    );
    const err = await failure(get(clientFor(reg), '/v2/repo/manifests/1'));
    expect(err).toMatchObject({ code: 'AUTH', message: `fetching x: GET ${reg.url}/v2/repo/manifests/1: HTTP 401 UNAUTHORIZED: authentication required` });
    expect(reg.calls().map((c) => c.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
    expect(issued).toBe(2);
  });

  it('a 401 without a challenge is AUTH at once', async () => {
    const reg = await serve((_q, res) => void res.writeHead(401).end());
    await expect(get(clientFor(reg), '/v2/repo/manifests/1')).rejects.toMatchObject({ code: 'AUTH' });
    expect(reg.calls()).toHaveLength(1);
  });
});

describe('retries', () => {
  const events: RetryEvent[] = [];
  let off: (() => void) | undefined;
  afterEach(() => {
    off?.();
    events.length = 0;
  });
  const listen = (): void => {
    off = onRetry((e) => events.push(e));
  };

  it('429 with Retry-After is retried after the time it asks for', async () => {
    listen();
    const reg = await serve((_q, res, n) => (n === 1 ? void res.writeHead(429, { 'retry-after': '1' }).end() : void res.writeHead(200).end('ok')));
    const r = await get(clientFor(reg, undefined, { attempts: 3, baseDelayMs: 1, maxDelayMs: 600 }), '/v2/repo/manifests/1');
    expect(r.text).toBe('ok');
    expect(reg.calls()).toHaveLength(2);
    expect(events).toEqual([{ what: 'fetching x', attempt: 2, attempts: 3, delayMs: 1000, reason: 'HTTP 429' }]);
  });

  it('5xx is retried up to the attempts, then fails naming method and URL without the query', async () => {
    listen();
    const reg = await serve((_q, res) => void res.writeHead(503).end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}'));
    const err = await failure(get(clientFor(reg), '/v2/repo/blobs/uploads/1?digest=sha256:abc&_state=secret', { method: 'PUT' }));
    expect(err).toMatchObject({ code: 'REGISTRY', message: `fetching x: PUT ${reg.url}/v2/repo/blobs/uploads/1: HTTP 503 UNAVAILABLE: try later` });
    expect(err.message).not.toContain('secret');
    expect(reg.calls()).toHaveLength(3);
    expect(events.map((e) => [e.attempt, e.reason])).toEqual([
      [2, 'HTTP 503'],
      [3, 'HTTP 503'],
    ]);
  });

  it.each([501, 505, 400])('%i is not retried', async (status) => {
    const reg = await serve((_q, res) => void res.writeHead(status).end());
    await expect(get(clientFor(reg), '/v2/repo/manifests/1')).rejects.toMatchObject({ code: 'REGISTRY', message: expect.stringContaining(`HTTP ${status}`) });
    expect(reg.calls()).toHaveLength(1);
  });

  it('a connection reset is retried', async () => {
    const reg = await serve((req, res, n) => (n === 1 ? void req.socket.destroy() : void res.writeHead(200).end('ok')));
    await expect(get(clientFor(reg), '/v2/repo/manifests/1')).resolves.toMatchObject({ text: 'ok' });
    expect(reg.calls()).toHaveLength(2);
  });

  it('connection resets on every attempt fail as NETWORK naming method and URL without the query', async () => {
    const reg = await serve((req) => void req.socket.destroy());
    const err = await failure(get(clientFor(reg), '/v2/repo/blobs/sha256:abc?sig=secret'));
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect(err.message).toMatch(new RegExp(`^fetching x: GET ${reg.url}/v2/repo/blobs/sha256:abc: `));
    expect(err.message).not.toContain('secret');
    expect(reg.calls()).toHaveLength(3);
  });

  it('a failing redirect target is named without its signed query string, and its 403 is no login problem', async () => {
    const storage = await serve((_q, res) => void res.writeHead(403).end('<Error><Code>AccessDenied</Code></Error>'));
    const reg = await serve((_q, res) => void res.writeHead(307, { location: `${storage.url}/bucket/blob?X-Amz-Signature=secret` }).end());
    const err = await failure(get(clientFor(reg), '/v2/repo/blobs/sha256:abc'));
    expect(err).toMatchObject({
      code: 'REGISTRY',
      message: `fetching x: GET ${storage.url}/bucket/blob: HTTP 403 <Error><Code>AccessDenied</Code></Error>`,
      hint: `${reg.host} redirected to ${storage.host}, which refused the request (an expired signed URL or misconfigured storage); try again, and if it persists tell the registry's operator`,
    });
    expect(err.message).not.toContain('secret');
  });
});

describe('statuses', () => {
  it('404 is NOT_FOUND, at once, with the registry error text', async () => {
    const reg = await serve((_q, res) => void res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'));
    const err = await failure(get(clientFor(reg), '/v2/repo/manifests/nope'));
    expect(err).toBeInstanceOf(RegistryStatusError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', status: 404, message: `fetching x: GET ${reg.url}/v2/repo/manifests/nope: HTTP 404 MANIFEST_UNKNOWN: manifest unknown` });
    expect(reg.calls()).toHaveLength(1);
  });

  it('a status the caller accepts is returned as it is (HEAD 404 for "not there")', async () => {
    const reg = await serve((_q, res) => void res.writeHead(404).end());
    await expect(get(clientFor(reg), '/v2/repo/blobs/x', { method: 'HEAD', accept: [200, 404] })).resolves.toMatchObject({ status: 404 });
  });

  it('never puts a credential in a message', async () => {
    const reg = await serve((req, res) => {
      if (!req.headers.authorization) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      res.writeHead(403).end('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}');
    }, basicChallenge);
    const err = await failure(get(clientFor(reg, { username: 'bob', password: 'hunter2' }), '/v2/repo/manifests/1'));
    expect(err).toMatchObject({ code: 'AUTH' });
    expect(`${err.message} ${err.hint}`).not.toMatch(/hunter2|Ym9iOmh1bnRlcjI/);
  });
});
