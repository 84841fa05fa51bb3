import { describe, expect, it } from 'vitest';
import type { LoadedManifest, ManifestImage } from '../manifest-file/load.js';
import type { LockFile, LockedImage } from '../manifest-file/lock.js';
import { parsePlatformSelection } from '../oci/platform.js';
import { parseReference } from '../reference/parse-reference.js';
import { expandFromLock } from './tag-selection.js';

const KEY = 'r.example/app semver ">=1"';
const image = (ref: string, selection?: ManifestImage['selection']): ManifestImage => ({
  request: ref, ref: selection ? { ...parseReference(ref), tag: undefined } : parseReference(ref), platforms: parsePlatformSelection([]), platformStrings: ['linux/amd64'], origin: 'm.yaml:2:5', ...(selection ? { selection } : {}),
});
const manifest = (images: ManifestImage[]): LoadedManifest => ({ path: 'm.yaml', bundle: 'm', images, insecure: [], caFiles: {} });
const locked = (ref: string, selectedBy?: string): LockedImage => ({ ref, name: null, platforms: ['linux/amd64'], ...(selectedBy ? { selectedBy } : {}), upstreamDigest: 'sha256:x', digest: 'sha256:x', mediaType: 'm', images: [] });

describe('expandFromLock', () => {
  const selection = { selector: { semver: '>=1' }, key: KEY };
  const lock: LockFile = { lockVersion: 1, images: [locked('r.example/app:1.0.0', KEY), locked('r.example/app:1.2.0', KEY), locked('r.example/app:2.0.0')] };

  it('gives a selection exactly the tags the lock recorded for it, and keeps hand-listed images once', () => {
    const m = expandFromLock(manifest([image('r.example/app', selection), image('r.example/app:1.2.0')]), lock, 'm.lock.json');
    expect(m.images.map((i) => [i.request, i.selection?.key ?? null])).toEqual([
      ['r.example/app:1.0.0', KEY],
      ['r.example/app:1.2.0', null],
    ]);
  });

  it('fails (exit 2) for a selection the lock does not have', () => {
    const other = { selector: { latest: 2 }, key: 'r.example/app latest 2' };
    expect(() => expandFromLock(manifest([image('r.example/app', other)]), lock, 'm.lock.json')).toThrow(expect.objectContaining({
      code: 'MANIFEST_FILE', exitCode: 2, message: '--locked: m.lock.json does not lock r.example/app latest 2 (m.yaml:2:5)',
    }));
  });
});
