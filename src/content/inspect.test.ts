import { describe, expect, it } from 'vitest';
import { FerryError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import { chooseImage, inspectPlan } from './inspect.js';
import type { ImagePlan, PlatformImage } from './plan.js';

const cfg: Descriptor = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: 'sha256:c', size: 10 };
const layer: Descriptor = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: 'sha256:l', size: 99 };
const img = (os: string, architecture: string, digest: string): PlatformImage => ({
  platform: { os, architecture },
  manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1, platform: { os, architecture } },
  config: cfg,
  layers: [layer],
  kind: os === 'unknown' ? 'artifact' : 'image',
});
const plan = (images: PlatformImage[], manifests: ImagePlan['manifests'] = []): ImagePlan => ({
  request: 'r.example/a:1',
  ref: { registry: 'r.example', repository: 'a', tag: '1', digest: undefined },
  name: 'r.example/a:1',
  root: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: 'sha256:i', size: 1 },
  upstreamDigest: 'sha256:i',
  manifests,
  images,
  notes: [],
});

describe('chooseImage', () => {
  const p = plan([img('unknown', 'unknown', 'sha256:att'), img('linux', 'arm64', 'sha256:arm'), img('linux', 'amd64', 'sha256:amd')]);
  it('takes --platform, else linux/amd64, else the first that is not an attestation', () => {
    expect(chooseImage(p, 'linux/arm64').manifest.digest).toBe('sha256:arm');
    expect(chooseImage(p, undefined).manifest.digest).toBe('sha256:amd');
    expect(chooseImage(plan(p.images.slice(0, 2)), undefined).manifest.digest).toBe('sha256:arm');
  });
  it('a platform the image lacks is NOT_FOUND listing what it has', () => {
    expect(() => chooseImage(p, 'linux/s390x')).toThrow(FerryError);
    expect(() => chooseImage(p, 'linux/s390x')).toThrow('(the image has: linux/arm64, linux/amd64)');
  });
});

describe('inspectPlan', () => {
  it('a legacy docker save image (no registry manifest) shows its config and layers', async () => {
    const legacy = plan([{ platform: { os: 'linux', architecture: 'amd64' }, manifest: cfg, config: cfg, layers: [layer], kind: 'image' }]);
    legacy.root = cfg;
    const { view } = await inspectPlan(legacy, { platform: undefined, readConfig: async () => Buffer.from('{"os":"linux","architecture":"amd64","config":{"Cmd":["sh"]}}') });
    expect(view).toMatchObject({ Digest: 'sha256:c', Id: 'sha256:c', Os: 'linux', Layers: ['sha256:l'], Size: 99, Config: { Cmd: ['sh'] }, Platforms: [] });
  });
});
