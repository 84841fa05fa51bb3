/**
 * Security and damage checks for every command that reads a bundle (`verify`, `push`, `load`):
 * damaged and hostile archives are built in test code from a real ferry bundle (and a real
 * `docker save` archive), each with the bad entry placed after all the good ones, so a reader
 * that acts before it has checked the whole archive is caught. Each one must be rejected with
 * exit 1 naming the entry; the target registry must receive no write at all (its access log is
 * the oracle), the Docker engine must load nothing (its image list and `docker events` are the
 * oracles), and nothing may appear outside the test's directories.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures } from './helpers/fixtures.js';
import { imageEvents, imageIds, removeAllImages } from './helpers/internal-docker.js';
import { accessLog, catalog, logMark, showLines, writes } from './helpers/internal-registry-log.js';
import { ferryIn, saveBundle, startServers, type Servers } from './helpers/internal-suite.js';
import {
  blobEntryName, fileHeader, flipByte, insertEntry, readTar, replaceData, truncateFile, writeTar, type TarEntry,
} from './helpers/internal-tar.js';
import { run } from './helpers/processes.js';
import type { Registry } from './helpers/registry.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('hostile');
/** Unique to this run, in every name a hostile entry tries to create outside the archive. */
const TOKEN = `ferry-escape-${randomBytes(6).toString('hex')}`;
let servers: Servers;
let fx: Fixtures;
let target: Registry;
/** A sound ferry bundle of busybox and app, the base of every hostile variant. */
let good: string;
let goodEntries: TarEntry[];
/** A sound `docker save` archive (Docker 20.10 legacy layout) of busybox and app. */
let dockerSave: string;
const passwdHash = () => createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex');
let passwdBefore: string;

beforeAll(async () => {
  servers = await startServers(tmp.path, [{}]);
  fx = servers.fx;
  target = servers.targets[0]!;
  good = await saveBundle(tmp.path, 'good.tar.gz', [fx.busybox.ref, fx.app.ref]);
  goodEntries = await readTar(good);
  dockerSave = tmp.join('docker-save.tar');
  await servers.dockerd.dockerOk(['save', '-o', dockerSave, fx.busybox.ref, fx.app.ref]);
  await removeAllImages(servers.dockerd);
  passwdBefore = passwdHash();
});

afterAll(async () => {
  await servers?.stop();
});

interface HostileCase {
  /** What the bundle is, for the test names. */
  what: string;
  /** Writes the bundle to `file`. */
  build(file: string): Promise<void>;
  /** What stderr must contain: the offending entry (or, for a cut file, the file and why). */
  named: () => string | RegExp;
}

/** The good bundle with `extra` appended after every good entry. */
const appended = (extra: TarEntry) => (file: string) => writeTar(file, insertEntry(goodEntries, extra));

const cases: HostileCase[] = [
  {
    what: 'a layer with one flipped byte',
    build: (file) => writeTar(file, flipByte(goodEntries, blobEntryName(fx.app.bigLayer))),
    named: () => fx.app.bigLayer.replace('sha256:', ''),
  },
  {
    what: 'a truncated bundle (gzip cut at 60%)',
    build: async (file) => truncateFile(good, file, 0.6),
    named: () => /truncat|ends early|unexpected end/i,
  },
  {
    what: 'a ../ entry',
    build: appended({ header: fileHeader(`../${TOKEN}-dotdot`), data: Buffer.from('escaped\n') }),
    named: () => `../${TOKEN}-dotdot`,
  },
  {
    what: 'a ../ entry hidden below a directory (blobs/../../x)',
    build: appended({ header: fileHeader(`blobs/../../${TOKEN}-deep`), data: Buffer.from('escaped\n') }),
    named: () => `blobs/../../${TOKEN}-deep`,
  },
  {
    what: 'an absolute-path entry',
    build: (file) => appended({ header: fileHeader(absolutePath()), data: Buffer.from('escaped\n') })(file),
    named: () => absolutePath(),
  },
  {
    what: 'a symlink entry blobs/sha256/x -> /etc/passwd',
    build: appended({ header: fileHeader('blobs/sha256/x', { type: 'symlink', linkname: '/etc/passwd' }), data: Buffer.alloc(0) }),
    named: () => 'blobs/sha256/x',
  },
  {
    what: 'a symlink to a directory outside followed by a file written through it',
    build: (file) =>
      writeTar(file, [
        ...goodEntries,
        { header: fileHeader('blobs/sha256/through', { type: 'symlink', linkname: outsideDir() }), data: Buffer.alloc(0) },
        { header: fileHeader(`blobs/sha256/through/${TOKEN}-through`), data: Buffer.from('escaped\n') },
      ]),
    named: () => 'blobs/sha256/through',
  },
  {
    what: 'a hard link entry to /etc/passwd',
    build: appended({ header: fileHeader('blobs/sha256/hardlink', { type: 'link', linkname: '/etc/passwd' }), data: Buffer.alloc(0) }),
    named: () => 'blobs/sha256/hardlink',
  },
  {
    what: 'a character device entry',
    build: appended({ header: fileHeader('blobs/sha256/dev', { type: 'character-device', devmajor: 1, devminor: 3 }), data: Buffer.alloc(0) }),
    named: () => 'blobs/sha256/dev',
  },
  {
    what: 'a second index.json after the blobs',
    build: appended({ header: fileHeader('index.json'), data: Buffer.from('{"schemaVersion":2,"manifests":[]}\n') }),
    named: () => 'index.json',
  },
  {
    what: 'an oversized index.json (9 MiB, > 8 MiB)',
    build: (file) => {
      const index = goodEntries.find((e) => e.header.name === 'index.json')!;
      const padded = Buffer.concat([index.data, Buffer.alloc(9 * 1024 * 1024, 0x20)]);
      return writeTar(file, replaceData(goodEntries, 'index.json', padded));
    },
    named: () => 'index.json',
  },
  {
    what: 'a docker save archive with a second manifest.json that renames the images',
    build: async (file) => {
      const entries = await readTar(dockerSave);
      const manifest = entries.find((e) => e.header.name === 'manifest.json');
      if (!manifest) throw new Error('docker save wrote no manifest.json');
      const doc = JSON.parse(manifest.data.toString('utf8')) as { RepoTags: string[] }[];
      const renamed = doc.map((d, i) => ({ ...d, RepoTags: [`injected/by-second-manifest:${i}`] }));
      await writeTar(file, [...entries, { header: fileHeader('manifest.json'), data: Buffer.from(JSON.stringify(renamed)) }], false);
    },
    named: () => 'manifest.json',
  },
  {
    what: 'a docker save archive whose layer link leaves the archive',
    build: async (file) => {
      const entries = await readTar(dockerSave);
      const link = entries.find((e) => e.header.type === 'symlink');
      if (!link) throw new Error(`docker save wrote no layer symlink: ${entries.map((e) => e.header.name).join(', ')}`);
      link.header = { ...link.header, linkname: '../../../../../../etc/passwd' };
      linkName = link.header.name;
      await writeTar(file, entries, false);
    },
    named: () => linkName,
  },
];
let linkName = '';

/** Where the absolute-path entry points: next to the suite's temp dir, outside it. */
function absolutePath(): string {
  return join(dirname(tmp.path), `${TOKEN}-absolute`);
}

/** A directory outside every test directory, created empty for the symlink case. */
function outsideDir(): string {
  const d = join(dirname(tmp.path), `${TOKEN}-outside`);
  mkdirSync(d, { recursive: true });
  return d;
}

let n = 0;

describe.each(cases)('bundle readers reject $what', (c) => {
  let file: string;
  let work: string;

  beforeAll(async () => {
    work = tmp.join(`case-${++n}`);
    mkdirSync(work, { recursive: true });
    file = join(work, `hostile-${n}.tar${c.what.startsWith('a docker save') ? '' : '.gz'}`);
    await c.build(file);
  });

  it('verify rejects it with exit 1, naming the entry', async () => {
    const r = await ferryIn(work, ['verify', file]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toMatch(toMatcher(c.named()));
    expect(r.stderr).toMatch(/^error: /m);
  });

  it('push rejects it with exit 1, naming the entry; the registry gets no write and no mapping file is written', async () => {
    const mark = logMark(target);
    const r = await ferryIn(work, ['push', file, '--to', `${target.host}/hostile`]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toMatch(toMatcher(c.named()));
    const w = writes(accessLog(target, mark));
    expect(w, `registry writes:\n${showLines(w)}`).toEqual([]);
    expect(readdirSync(r.home).filter((f) => f.includes('mapping')), 'mapping files in the cwd').toEqual([]);
  });

  it('load rejects it with exit 1, naming the entry; the engine loads nothing', async () => {
    await removeAllImages(servers.dockerd);
    const since = Date.now();
    const r = await ferryIn(work, ['load', file], { env: { DOCKER_HOST: servers.dockerd.env.DOCKER_HOST } });
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toMatch(toMatcher(c.named()));
    expect(await imageIds(servers.dockerd)).toEqual([]);
    const loads = (await imageEvents(servers.dockerd, since)).filter((e) => e.action === 'load');
    expect(loads, 'image load events').toEqual([]);
  });
});

describe('after every hostile bundle', () => {
  it('the target registry holds no repository', async () => {
    expect(await catalog(target)).toEqual([]);
  });

  it('nothing was created outside the test directories', async () => {
    expect(existsSync(absolutePath())).toBe(false);
    expect(readdirSync(outsideDir())).toEqual([]);
    // ../ entries would land next to the cwd, the bundle or the engine's unpack dir, all of
    // which are below the system temp dir (the parent of the suite's temp dir).
    const found = await run('find', [dirname(tmp.path), '-name', `*${TOKEN}*`, '-not', '-path', outsideDir()]);
    expect(found.stdout.split('\n').filter(Boolean)).toEqual([]);
    expect(passwdHash()).toBe(passwdBefore);
  });
});

afterAll(async () => {
  await run('rm', ['-rf', join(dirname(tmp.path), `${TOKEN}-outside`)]);
});

function toMatcher(s: string | RegExp): RegExp {
  return typeof s === 'string' ? new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : s;
}
