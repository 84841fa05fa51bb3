import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockFromPlans, lockPath, lockText, readLock, writeLock } from './lock.js';
import type { ImagePlan } from '../content/plan.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

function plan(ref: string, digest: string): ImagePlan {
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('c'), size: 10 };
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('b'), size: 5 };
  const manifest = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 100 };
  return {
    request: ref,
    ref: { registry: 'docker.io', repository: 'library/x', tag: '1', digest: undefined },
    name: undefined,
    root: manifest,
    upstreamDigest: digest,
    manifests: [],
    images: [{ platform: { os: 'linux', architecture: 'amd64' }, manifest, config, layers: [layer], kind: 'image' }],
    notes: [],
  };
}

describe('lock file', () => {
  it('sits beside the manifest: prod.yaml -> prod.lock.json', () => {
    expect(lockPath('manifests/prod.yaml')).toBe('manifests/prod.lock.json');
    expect(lockPath('/x/y/list.json')).toBe('/x/y/list.lock.json');
  });

  it('sorts images by reference and has no timestamps, so the same input gives the same text', () => {
    const a = lockFromPlans([
      { ref: 'docker.io/library/zeta:1', name: null, platforms: ['linux/amd64'], plan: plan('zeta:1', d('1')) },
      { ref: 'docker.io/library/alpha:1', name: null, platforms: ['linux/amd64'], plan: plan('alpha:1', d('2')) },
    ]);
    const b = lockFromPlans([
      { ref: 'docker.io/library/alpha:1', name: null, platforms: ['linux/amd64'], plan: plan('alpha:1', d('2')) },
      { ref: 'docker.io/library/zeta:1', name: null, platforms: ['linux/amd64'], plan: plan('zeta:1', d('1')) },
    ]);
    expect(a.images.map((i) => i.ref)).toEqual(['docker.io/library/alpha:1', 'docker.io/library/zeta:1']);
    expect(lockText(a)).toBe(lockText(b));
    expect(lockText(a)).not.toMatch(/20\d\d-\d\d-\d\d/);
    expect(lockText(a).endsWith('}\n')).toBe(true);
  });

  it('is rewritten only when its content changes, and reads back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-lock-test-'));
    const p = join(dir, 'prod.lock.json');
    const lock = lockFromPlans([{ ref: 'docker.io/library/x:1', name: null, platforms: ['linux/amd64'], plan: plan('x:1', d('1')) }]);
    expect(await writeLock(p, lock)).toBe(true);
    const before = statSync(p).mtimeMs;
    expect(await writeLock(p, lock)).toBe(false);
    expect(statSync(p).mtimeMs).toBe(before);
    expect(await readLock(p)).toEqual(lock);
    expect(readFileSync(p, 'utf8')).toBe(lockText(lock));
    expect(await readLock(join(dir, 'absent.lock.json'))).toBeUndefined();
  });
});
