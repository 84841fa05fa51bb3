import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../errors.js';
import { expandSelection, loadManifestFile } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-manifest-test-'));
let n = 0;
function file(text: string, ext = 'yaml'): string {
  const p = join(dir, `m${++n}.${ext}`);
  writeFileSync(p, text);
  return p;
}

async function problems(text: string): Promise<string[]> {
  const p = file(text);
  const err = await loadManifestFile(p).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FerryError);
  expect((err as FerryError).code).toBe('MANIFEST_FILE');
  expect((err as FerryError).exitCode).toBe(2);
  return (err as FerryError).message.split('\n').slice(1).map((l) => l.trim().replace(`${p}:`, ''));
}

describe('loadManifestFile: valid files', () => {
  it('reads strings and maps, defaults, names and registries', async () => {
    const p = file(`bundle: prod
platforms: [linux/amd64]
images:
  - nginx:1.27
  - ref: quay.io/prometheus/prometheus:v2.53.0
    platforms: [linux/amd64, linux/arm64]
  - ref: ghcr.io/acme/api@sha256:${'a'.repeat(64)}
    name: acme/api:1.4
registries:
  registry.lab:5000: { insecure: true }
  registry.corp.example: { ca-file: certs/corp.pem }
`);
    const m = await loadManifestFile(p);
    expect(m.bundle).toBe('prod');
    expect(m.images.map((i) => `${i.ref.registry}/${i.ref.repository}`)).toEqual(['docker.io/library/nginx', 'quay.io/prometheus/prometheus', 'ghcr.io/acme/api']);
    expect(m.images[1]!.platformStrings).toEqual(['linux/amd64', 'linux/arm64']);
    expect(m.images[2]!.name?.repository).toBe('acme/api');
    expect(m.images[0]!.origin).toBe(`${p}:4:5`);
    expect(m.insecure).toEqual(['registry.lab:5000']);
    expect(m.caFiles['registry.corp.example']).toBe(join(dir, 'certs/corp.pem'));
  });

  it('the bundle name defaults to the file name, and JSON is accepted', async () => {
    const p = file('{"images": ["busybox:1"]}', 'json');
    const m = await loadManifestFile(p);
    expect(m.bundle).toBe(`m${n}`);
    expect(m.images[0]!.platformStrings).toEqual(['linux/amd64']);
  });
});

describe('loadManifestFile: platforms asked for or defaulted', () => {
  it('marks the default as defaulted, and platforms given per image or at the top as asked for', async () => {
    const none = await loadManifestFile(file('images:\n  - busybox:1\n'));
    expect(none.images[0]!.platforms).toEqual({ all: false, platforms: [{ os: 'linux', architecture: 'amd64' }], defaulted: true });
    expect(none.images[0]!.platformStrings).toEqual(['linux/amd64']);
    const top = await loadManifestFile(file('platforms: [linux/amd64]\nimages:\n  - busybox:1\n'));
    expect(top.images[0]!.platforms).toEqual({ all: false, platforms: [{ os: 'linux', architecture: 'amd64' }] });
    const own = await loadManifestFile(file('images:\n  - ref: busybox:1\n    platforms: [linux/arm64]\n'));
    expect(own.images[0]!.platforms).toEqual({ all: false, platforms: [{ os: 'linux', architecture: 'arm64' }] });
  });
});

describe('loadManifestFile: every problem at once, with file:line:column and the field', () => {
  it.each([
    ['a typo in a key', 'images:\n  - ref: a:1\n    platfroms: [linux/amd64]\n', ['3:5: images[0].platfroms: unknown key "platfroms" (a typo?)']],
    ['an unknown top-level key', 'images: [a]\nbundel: x\n', ['2:1: bundel: unknown key "bundel" (a typo?)']],
    // As in distribution/reference: an uppercase first component is a registry host, so the repository is "App".
    ['an uppercase repository', 'images:\n  - Team/App:1\n', ['2:5: images[0]: invalid image reference "Team/App:1": repository "App" must be lowercase']],
    ['an uppercase repository under a host', 'images:\n  - quay.io/Team/app:1\n', ['2:5: images[0]: invalid image reference "quay.io/Team/app:1": repository "Team/app" must be lowercase']],
    ['a platform that does not exist', 'images:\n  - ref: a:1\n    platforms: [linux/amd65]\n', [expect.stringMatching(/^3:17: images\[0\]\.platforms\[0\]: unknown architecture/)]],
    ['an unknown OS', 'platforms: [linx/amd64]\nimages: [a]\n', [expect.stringMatching(/^1:13: platforms\[0\]: unknown operating system/)]],
    ['a duplicate image', 'images:\n  - a:1\n  - docker.io/library/a:1\n', ['3:5: images[1]: docker.io/library/a:1 is listed twice (first at images[0])']],
    ['no images', 'bundle: x\n', [expect.stringMatching(/^1:1: images: /)]],
    ['a name with a digest', `images:\n  - ref: a:1\n    name: b@sha256:${'a'.repeat(64)}\n`, [expect.stringMatching(/^3:11: images\[0\]\.name: .*must be a name with a tag, without a digest/)]],
    ['broken YAML', 'images:\n  - a\n  b: [\n', [expect.stringMatching(/^3:1: /), expect.stringMatching(/^4:1: /)]],
  ])('%s', async (_what, text, want) => {
    expect(await problems(text)).toEqual(want);
  });

  it('lists schema and reference problems together', async () => {
    const got = await problems('images:\n  - Bad:1\n  - ref: ok:1\n    extra: 1\n');
    expect(got).toHaveLength(2);
  });

  it('a missing file is a MANIFEST_FILE error naming it', async () => {
    await expect(loadManifestFile(join(dir, 'nope.yaml'))).rejects.toMatchObject({ code: 'MANIFEST_FILE', message: expect.stringContaining('nope.yaml') });
  });
});

describe('loadManifestFile: tag selections', () => {
  it('keeps the selection, with the repository alone as ref, and expandSelection makes one image per tag', async () => {
    const p = file(`images:
  - ref: registry.lab:5000/team/app
    tags: { semver: ">=1.26 <1.28" }
    limit: 3
  - ref: registry.lab:5000/team/app
    tags: [a, b]
  - ref: registry.lab:5000/team/app:1.0
`);
    const m = await loadManifestFile(p);
    expect(m.images[0]!.selection).toEqual({ selector: { semver: '>=1.26 <1.28' }, limit: 3, key: 'registry.lab:5000/team/app semver ">=1.26 <1.28", limit 3' });
    expect(m.images[0]!.ref.tag).toBeUndefined();
    expect(m.images[1]!.selection?.key).toBe('registry.lab:5000/team/app [a, b]');
    expect(m.images[2]!.selection).toBeUndefined();
    const x = expandSelection(m.images[0]!, ['1.27.1', '1.26.0']);
    expect(x.map((i) => [i.request, i.ref.tag, i.selection?.key, i.origin])).toEqual([
      ['registry.lab:5000/team/app:1.27.1', '1.27.1', m.images[0]!.selection!.key, `${p}:2:10`],
      ['registry.lab:5000/team/app:1.26.0', '1.26.0', m.images[0]!.selection!.key, `${p}:2:10`],
    ]);
  });

  it.each([
    ['a tag in ref', 'images:\n  - ref: a/b:1\n    tags: all\n', ['2:10: images[0].ref: "a/b:1" names a tag or digest; with tags, ref is the repository alone']],
    ['name with tags', 'images:\n  - ref: a/b\n    name: c:1\n    tags: all\n', ['3:11: images[0].name: name cannot be combined with tags (each tag keeps its own name)']],
    ['limit without tags', 'images:\n  - ref: a/b\n    limit: 2\n', ['3:12: images[0].limit: limit needs tags (e.g. tags: all, or tags: { latest: 5 })']],
    ['a broken range', 'images:\n  - ref: a/b\n    tags: { semver: ">=1 <x" }\n', ['3:11: images[0].tags: invalid semver range: "<x" in ">=1 <x" is not a comparator (e.g. >=1.26, <1.28.0, ^2.1, ~1.4.2)']],
    ['a broken regex', 'images:\n  - ref: a/b\n    tags: { regex: "(" }\n', [expect.stringMatching(/^3:11: images\[0\]\.tags: invalid regular expression: /)]],
    ['an unknown selector', 'images:\n  - ref: a/b\n    tags: { newest: 2 }\n', ['3:11: images[0].tags: expected a list of tags, all, { regex: ... }, { semver: ... } or { latest: N }']],
    ['latest: 0', 'images:\n  - ref: a/b\n    tags: { latest: 0 }\n', [expect.stringMatching(/^3:21: images\[0\]\.tags\.latest: /)]],
    ['the same selection twice', 'images:\n  - ref: a/b\n    tags: all\n  - ref: docker.io/a/b\n    tags: all\n', ['4:10: images[1].ref: docker.io/a/b all is listed twice (first at images[0])']],
  ])('%s', async (_what, text, want) => {
    expect(await problems(text)).toEqual(want);
  });
});
