import { describe, expect, it } from 'vitest';
import { FerryError } from '../errors.js';
import { familiarName, formatReference, manifestIdentifier, parseReference, type Reference } from './parse-reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference: valid references (distribution/reference normalisation)', () => {
  const cases: [string, Reference][] = [
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: undefined }],
    ['index.docker.io/library/nginx:1', { registry: 'docker.io', repository: 'library/nginx', tag: '1', digest: undefined }],
    ['index.docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined }],
    ['user/app', { registry: 'docker.io', repository: 'user/app', tag: 'latest', digest: undefined }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest', digest: undefined }],
    ['localhost:5000/a/b:1', { registry: 'localhost:5000', repository: 'a/b', tag: '1', digest: undefined }],
    ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000', digest: undefined }],
    ['registry.example.com:443/x', { registry: 'registry.example.com:443', repository: 'x', tag: 'latest', digest: undefined }],
    ['[::1]:5000/x:1', { registry: '[::1]:5000', repository: 'x', tag: '1', digest: undefined }],
    ['[::1]/x', { registry: '[::1]', repository: 'x', tag: 'latest', digest: undefined }],
    [`host:5000/x@${D}`, { registry: 'host:5000', repository: 'x', tag: undefined, digest: D }],
    [`nginx:1.27@${D}`, { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: D }],
    [`a/b:tag@${D}`, { registry: 'docker.io', repository: 'a/b', tag: 'tag', digest: D }],
    ['quay.io/team/api:v1.4.2-rc_1', { registry: 'quay.io', repository: 'team/api', tag: 'v1.4.2-rc_1', digest: undefined }],
    ['a/b.c_d__e---f:TAG', { registry: 'docker.io', repository: 'a/b.c_d__e---f', tag: 'TAG', digest: undefined }],
    ['ghcr.io/a/b/c/d', { registry: 'ghcr.io', repository: 'a/b/c/d', tag: 'latest', digest: undefined }],
    // Host names are case-insensitive: one (lowercase) spelling.
    ['LOCALHOST:5001/x:1', { registry: 'localhost:5001', repository: 'x', tag: '1', digest: undefined }],
    ['Registry.Example.COM/team/api:1', { registry: 'registry.example.com', repository: 'team/api', tag: '1', digest: undefined }],
    ['Index.Docker.IO/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined }],
  ];
  it.each(cases)('%s', (input, want) => {
    expect(parseReference(input)).toEqual(want);
  });
});

describe('parseReference: invalid references throw REFERENCE naming the problem', () => {
  const longName = `${'a'.repeat(250)}`; // docker.io/library/ + 250 > 255
  const cases: [label: string, input: string, why: RegExp][] = [
    ['uppercase repository', 'Nginx/UPPER', /repository "UPPER" must be lowercase/],
    ['uppercase single component', 'NGINX', /must be lowercase/],
    ['malformed digest', 'x@sha256:abc', /"sha256:abc" is not a valid digest/],
    ['empty digest', 'x@', /"" is not a valid digest/],
    ['empty tag', 'x:', /"" is not a valid tag/],
    ['tag starting with a dot', 'x:.a', /".a" is not a valid tag/],
    ['tag longer than 128', `x:${'t'.repeat(129)}`, /is not a valid tag/],
    ['leading dash', '-x', /"-x" is not a valid path component/],
    ['trailing separator', 'x-', /"x-" is not a valid path component/],
    ['name longer than 255', longName, /at most 255 are allowed/],
    ['empty string', '', /it is empty/],
    ['blank string', '   ', /it is empty/],
    ['empty path component', 'a//b', /"" is not a valid path component/],
    ['empty repository after host', 'localhost:5000/', /(repository name is empty|not a valid path component)/],
    ['bad host port', 'host:port/x', /"host:port" is not a valid registry host/],
  ];
  it.each(cases)('%s: %s', (_label, input, why) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FerryError);
    const e = caught as FerryError;
    expect(e.code).toBe('REFERENCE');
    expect(e.exitCode).toBe(2);
    expect(e.message.startsWith(`invalid image reference "${input}": `)).toBe(true);
    expect(e.message).toMatch(why);
  });

  it('accepts a name of exactly 255 characters and rejects 256', () => {
    const host = 'r.io/';
    const ok = `${host}${'a'.repeat(255 - host.length)}`;
    expect(parseReference(ok).repository).toHaveLength(250);
    expect(() => parseReference(`${ok}a`)).toThrow(/the name is 256 characters long/);
  });
});

describe('formatReference', () => {
  const cases: [string, string][] = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['user/app:2', 'docker.io/user/app:2'],
    [`host:5000/x@${D}`, `host:5000/x@${D}`],
    [`a/b:tag@${D}`, `docker.io/a/b:tag@${D}`],
    ['[::1]:5000/x:1', '[::1]:5000/x:1'],
  ];
  it.each(cases)('%s -> %s', (input, want) => {
    expect(formatReference(parseReference(input))).toBe(want);
  });

  it('round-trips: parsing the canonical form gives the same reference', () => {
    for (const [input] of cases) {
      const ref = parseReference(input);
      expect(parseReference(formatReference(ref))).toEqual(ref);
    }
  });
});

describe('familiarName', () => {
  const cases: [string, string][] = [
    ['docker.io/library/nginx:1.27', 'nginx'],
    ['nginx', 'nginx'],
    ['docker.io/user/app', 'user/app'],
    ['docker.io/library/a/b', 'library/a/b'],
    ['quay.io/x/y:1', 'quay.io/x/y'],
    ['127.0.0.1:5000/x/y:1', '127.0.0.1:5000/x/y'],
    ['localhost/app', 'localhost/app'],
  ];
  it.each(cases)('%s -> %s', (input, want) => {
    expect(familiarName(parseReference(input))).toBe(want);
  });
});

describe('manifestIdentifier', () => {
  it('uses the digest when pinned, the tag otherwise', () => {
    expect(manifestIdentifier(parseReference(`a/b:tag@${D}`))).toBe(D);
    expect(manifestIdentifier(parseReference('a/b:tag'))).toBe('tag');
    expect(manifestIdentifier(parseReference('a/b'))).toBe('latest');
  });
});

describe('parseReference: digest algorithms', () => {
  it('refuses a sha512 digest with a message that says why', () => {
    expect(() => parseReference(`busybox@sha512:${'a'.repeat(128)}`)).toThrow(/sha512 digests are valid but not supported/);
  });
});
