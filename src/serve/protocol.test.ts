import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseRange } from './range.js';
import { paginate } from './paginate.js';
import { parseRoute } from './routes.js';
import { RegistryError, readOnly } from './registry-errors.js';
import { Repositories } from './repositories.js';
import { Verifier, DamagedContentError } from './verifier.js';
import { parseHtpasswd } from './htpasswd.js';
import { mirrorConfig } from './mirror-config.js';
import { parseListen } from './listen-address.js';
import type { ServedContent } from './content.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('parseRange', () => {
  it.each([
    [undefined, 100, undefined],
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=95-200', 100, { start: 95, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=9-3', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=abc', 100, 'unsatisfiable'],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
  ] as const)('%s of %d bytes', (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });
});

describe('paginate', () => {
  const q = (s: string): URLSearchParams => new URLSearchParams(s);
  it('sorts, pages with n and last, and links the next page', () => {
    expect(paginate(['c', 'a', 'b'], q(''), '/v2/_catalog')).toEqual({ entries: ['a', 'b', 'c'], link: undefined });
    expect(paginate(['c', 'a', 'b'], q('n=2'), '/v2/_catalog')).toEqual({ entries: ['a', 'b'], link: '</v2/_catalog?n=2&last=b>; rel="next"' });
    expect(paginate(['c', 'a', 'b'], q('n=2&last=b'), '/v2/_catalog')).toEqual({ entries: ['c'], link: undefined });
    expect(paginate(['a'], q('n=0'), '/x')).toEqual({ entries: [], link: undefined });
  });
  it('rejects an n that is not a whole number', () => {
    expect(() => paginate([], q('n=-1'), '/x')).toThrow(expect.objectContaining({ status: 400, code: 'PAGINATION_NUMBER_INVALID' }));
  });
});

describe('parseRoute', () => {
  const d = `sha256:${'a'.repeat(64)}`;
  it.each([
    ['/v2/', { kind: 'base' }],
    ['/v2', { kind: 'base' }],
    ['/v2/_catalog', { kind: 'catalog' }],
    ['/v2/library/nginx/tags/list', { kind: 'tags', name: 'library/nginx' }],
    ['/v2/library/nginx/manifests/1.27', { kind: 'manifest', name: 'library/nginx', reference: '1.27' }],
    [`/v2/a/manifests/b/manifests/${d}`, { kind: 'manifest', name: 'a/manifests/b', reference: d }],
    [`/v2/lab/app/blobs/${d}`, { kind: 'blob', name: 'lab/app', digest: d }],
    [`/v2/lab/app/referrers/${d}`, { kind: 'referrers', name: 'lab/app', digest: d }],
    ['/v2/lab/app/blobs/uploads/', { kind: 'upload', name: 'lab/app' }],
    ['/other', undefined],
  ])('%s', (path, want) => {
    expect(parseRoute(path)).toEqual(want);
  });
  it.each([
    ['/v2/Lab/app/tags/list', 'NAME_INVALID'],
    ['/v2/lab/app/manifests/-bad', 'TAG_INVALID'],
    ['/v2/lab/app/blobs/sha256:abc', 'DIGEST_INVALID'],
  ])('%s is %s', (path, code) => {
    expect(() => parseRoute(path)).toThrow(expect.objectContaining({ code }));
  });
});

describe('registry errors', () => {
  it('have the spec body and 405 names the allowed methods', () => {
    const e = readOnly('PUT');
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.status).toBe(405);
    expect(e.headers).toEqual({ allow: 'GET, HEAD' });
    expect(JSON.parse(e.body().toString())).toEqual({ errors: [{ code: 'UNSUPPORTED', message: 'the operation is unsupported: ferry serve is read-only (PUT)' }] });
  });
});

describe('Repositories', () => {
  const n = (registry: string, repository: string, tag: string, digest: string, source: string) => ({ registry, repository, tag, digest, source });
  it('serves paths without the host, under the prefix, routed by ns; later bundles win with warnings', () => {
    const r = new Repositories([n('docker.io', 'library/nginx', '1', 'sha256:a', 'a.tgz'), n('ghcr.io', 'library/nginx', '1', 'sha256:b', 'b.tgz'), n('docker.io', 'library/nginx', '1', 'sha256:c', 'c.tgz')], 'mirror/');
    expect(r.paths()).toEqual(['mirror/library/nginx']);
    expect(r.find('mirror/library/nginx', 'ghcr.io')?.tags.get('1')?.digest).toBe('sha256:b');
    expect(r.find('mirror/library/nginx', 'index.docker.io')?.tags.get('1')?.digest).toBe('sha256:c');
    expect(r.find('mirror/library/nginx', undefined)?.registry).toBe('docker.io');
    expect(r.find('mirror/library/nginx', 'quay.io')).toBeUndefined();
    expect(r.find('library/nginx', undefined)).toBeUndefined();
    expect(r.warnings).toEqual([
      "mirror/library/nginx is in the bundles from docker.io and from ghcr.io: requests without ?ns= get ghcr.io's (b.tgz, named later)",
      "mirror/library/nginx is in the bundles from ghcr.io and from docker.io: requests without ?ns= get docker.io's (c.tgz, named later)",
      "docker.io/library/nginx:1 is sha256:a in a.tgz and sha256:c in c.tgz: serving c.tgz's (named later)",
    ]);
  });
});

describe('Verifier', () => {
  const good = Buffer.alloc(3 * 65536 + 5, 7);
  const content = (bytes: Buffer, digest: string): ServedContent => ({
    names: () => [],
    manifest: async (d) => (d === digest ? { mediaType: 'x', bytes } : undefined),
    blob: async (d) => (d === digest ? { size: bytes.length, open: (s, e) => Readable.from([bytes.subarray(s, Math.min(e + 1, s + 65536)), bytes.subarray(Math.min(e + 1, s + 65536), e + 1)]) } : undefined),
    referrers: () => [],
  });
  /** Reads the whole blob through its tap, as the handler sends it: what a client would get, or the error that cut it. */
  const whole = async (v: Verifier, digest: string, got: Buffer[] = []): Promise<Buffer> => {
    const b = (await v.blob(digest))!;
    const tap = v.tap(digest, b);
    for await (const c of b.open(0, b.size - 1)) {
      tap?.pass(c as Buffer);
      got.push(c as Buffer);
    }
    tap?.end();
    return Buffer.concat(got);
  };

  it('streams a good blob and remembers it as verified', async () => {
    const v = new Verifier(content(good, sha(good)), () => {});
    expect((await whole(v, sha(good))).equals(good)).toBe(true);
    expect(v.isVerified(sha(good))).toBe(true);
  });

  it('holds back the last chunk of a bad blob: the stream errors before it ends, and the blob is refused after', async () => {
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 1;
    const damage: string[] = [];
    const v = new Verifier(content(bad, sha(good)), (d) => damage.push(d));
    const got: Buffer[] = [];
    await expect(whole(v, sha(good), got)).rejects.toThrow(/is damaged in the bundle \(calculated sha256:/);
    expect(Buffer.concat(got).length).toBeLessThan(bad.length);
    expect(damage).toEqual([sha(good)]);
    await expect(v.blob(sha(good))).rejects.toBeInstanceOf(DamagedContentError);
  });

  it('checks the whole blob before a range, and manifests before they are sent', async () => {
    const bad = Buffer.from('not it');
    const v = new Verifier(content(bad, sha('it')), () => {});
    await expect(v.ensure(sha('it'), (await v.blob(sha('it')))!)).rejects.toBeInstanceOf(DamagedContentError);
    const w = new Verifier(content(bad, sha('it')), () => {});
    await expect(w.manifest(sha('it'))).rejects.toBeInstanceOf(DamagedContentError);
  });

  /** The blob in 1000-byte chunks, as a reader gets them. */
  const chunksOf = (b: Buffer, from = 0): Buffer[] => Array.from({ length: Math.ceil((b.length - from) / 1000) }, (_, i) => b.subarray(from + i * 1000, Math.min(b.length, from + (i + 1) * 1000)));

  it('shares one hash between concurrent reads of a blob: each gets all of it, the blob is hashed once', async () => {
    const v = new Verifier(content(good, sha(good)), () => {});
    const b = (await v.blob(sha(good)))!;
    const readers = [0, 1, 2].map(() => ({ tap: v.tap(sha(good), b)!, got: [] as Buffer[] }));
    const chunks = chunksOf(good);
    // Interleaved, at different speeds: reader 0 ahead, reader 1 behind it, reader 2 late and then the fastest.
    const step = (r: (typeof readers)[number]): void => {
      const c = chunks[r.got.length]!;
      r.tap.pass(c);
      r.got.push(c);
    };
    for (let i = 0; i < 50; i++) step(readers[0]!);
    for (let i = 0; i < 20; i++) step(readers[1]!);
    while (readers[2]!.got.length < chunks.length) step(readers[2]!);
    for (const r of readers) while (r.got.length < chunks.length) step(r);
    for (const r of readers) {
      r.tap.end();
      expect(Buffer.concat(r.got).equals(good)).toBe(true);
    }
    expect(v.hashedBytes).toBe(good.length);
    expect(v.isVerified(sha(good))).toBe(true);
    expect(v.tap(sha(good), b)).toBeUndefined();
    // A range after that reads nothing more through the hash.
    await v.ensure(sha(good), b);
    expect(v.hashedBytes).toBe(good.length);
  });

  it('a bad blob read by several clients at once: every one of them is refused before its last chunk, and the damage is reported once', async () => {
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 1;
    const damage: string[] = [];
    const v = new Verifier(content(bad, sha(good)), (d) => damage.push(d));
    const b = (await v.blob(sha(good)))!;
    const chunks = chunksOf(bad);
    const readers = [0, 1, 2].map(() => ({ tap: v.tap(sha(good), b)!, got: 0, refused: undefined as unknown }));
    for (const k of [2, 1, 0]) {
      // Reader 2 reads to 100 chunks before the end, reader 1 to the last chunk, then reader 0 to the end.
      const r = readers[k]!;
      const upTo = chunks.length - [0, 1, 100][k]!;
      while (r.got < upTo && r.refused === undefined) {
        try {
          r.tap.pass(chunks[r.got]!);
          r.got++;
        } catch (err) {
          r.refused = err;
        }
      }
    }
    for (const r of readers) {
      while (r.refused === undefined && r.got < chunks.length) {
        try {
          r.tap.pass(chunks[r.got]!);
          r.got++;
        } catch (err) {
          r.refused = err;
        }
      }
      expect(r.refused).toBeInstanceOf(DamagedContentError);
      expect(r.got).toBeLessThan(chunks.length);
    }
    expect(readers.map((r) => r.got)).toEqual([chunks.length - 1, chunks.length - 1, chunks.length - 100]);
    expect(v.hashedBytes).toBe(bad.length);
    expect(damage).toEqual([sha(good)]);
    expect(() => v.tap(sha(good), b)).toThrow(DamagedContentError);
  });

  it('a reader that goes away leaves the shared hash to the others; a range reads only the rest through it', async () => {
    const v = new Verifier(content(good, sha(good)), () => {});
    const b = (await v.blob(sha(good)))!;
    const chunks = chunksOf(good);
    const gone = v.tap(sha(good), b)!;
    for (let i = 0; i < 100; i++) gone.pass(chunks[i]!);
    // The range request's check goes on from where the hash is, not from 0.
    await v.ensure(sha(good), b);
    expect(v.hashedBytes).toBe(good.length);
    expect(v.isVerified(sha(good))).toBe(true);
  });

  it('a source shorter than the blob is damage', async () => {
    const v = new Verifier(content(good, sha(good)), () => {});
    const b = (await v.blob(sha(good)))!;
    const t = v.tap(sha(good), b)!;
    t.pass(good.subarray(0, 1000));
    expect(() => t.end()).toThrow(/1000 bytes, expected 196613/);
  });
});

describe('htpasswd', () => {
  it('reads bcrypt and {SHA} entries and refuses other schemes naming the line', () => {
    const m = parseHtpasswd('# c\nu:$2y$05$JSO6wPBNm00Oy1VJYZWxN.Rk4cm3PMWtHbcNIaDhOzl/oFlLTIVMa\nv:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n', 'f');
    expect([...m.keys()]).toEqual(['u', 'v']);
    expect(() => parseHtpasswd('w:$apr1$abc$def\n', 'f')).toThrow('f:1: the entry of user "w" is not bcrypt or {SHA}');
  });
});

describe('mirror configuration', () => {
  const t = { authority: '10.0.0.5:5000', tls: false, prefix: undefined, caFile: undefined };
  it('containerd: a hosts.toml per registry', () => {
    expect(mirrorConfig('containerd', ['docker.io'], t)).toBe('# file: /etc/containerd/certs.d/docker.io/hosts.toml\nserver = "https://registry-1.docker.io"\n\n[host."http://10.0.0.5:5000"]\n  capabilities = ["pull", "resolve"]\n');
    expect(mirrorConfig('containerd', ['ghcr.io'], { ...t, prefix: 'm' })).toContain('[host."http://10.0.0.5:5000/v2/m"]\n  capabilities = ["pull", "resolve"]\n  override_path = true\n');
  });
  it('cri-o: registries.conf v2 with a mirror; k3s: registries.yaml with rewrite for the prefix', () => {
    expect(mirrorConfig('cri-o', ['docker.io'], { ...t, prefix: 'm' })).toContain('[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "10.0.0.5:5000/m"\ninsecure = true');
    expect(mirrorConfig('k3s', ['docker.io'], { ...t, prefix: 'm' })).toBe('# file: /etc/rancher/k3s/registries.yaml\nmirrors:\n  "docker.io":\n    endpoint:\n      - "http://10.0.0.5:5000"\n    rewrite:\n      "^(.*)$": "m/$1"\n');
  });
});

describe('parseListen', () => {
  it('takes HOST:PORT and [v6]:PORT, and refuses the rest', () => {
    expect(parseListen('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('[::1]:5000')).toEqual({ host: '::1', port: 5000 });
    expect(parseListen(':5000')).toEqual({ host: '0.0.0.0', port: 5000 });
    expect(() => parseListen('5000')).toThrow('is not HOST:PORT');
    expect(() => parseListen('h:70000')).toThrow('above 65535');
  });
});
