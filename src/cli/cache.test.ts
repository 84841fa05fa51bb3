import { describe, expect, it } from 'vitest';
import { looksLikeManifestFile } from './cache.js';

describe('looksLikeManifestFile (cache prune --lock given a manifest by mistake)', () => {
  it.each([
    ['manifests/prod.yaml', 'images:\n  - busybox:1\n', true],
    ['manifests/prod.yml', 'anything', true],
    ['manifests/prod.json', '{"bundle":"prod","images":["busybox:1"]}', true],
    ['manifests/prod.txt', 'bundle: prod\nimages:\n  - busybox:1\n', true],
    ['manifests/prod.lock.json', '{"lockVersion":1,"images":[]}', false],
    ['manifests/broken.lock.json', '{"lockVersion":', false],
  ])('%s -> %s', (path, text, want) => {
    expect(looksLikeManifestFile(path, text)).toBe(want);
  });
});
