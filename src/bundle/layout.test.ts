import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest/digest.js';
import type { Descriptor, Platform } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { parsePlatform } from '../oci/platform.js';
import { parseReference } from '../reference/parse-reference.js';
import type { ImagePlan, PlatformImage } from '../content/plan.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, dockerLoadImage, dockerManifestJson, ferryMetadata, indexJson, ociLayout, type DockerManifestEntry } from './layout.js';

const desc = (mediaType: string, seed: string, size = 100): Descriptor => ({ mediaType, digest: sha256Digest(seed), size });

function img(platform: Platform | undefined, seed: string, layerCount = 2): PlatformImage {
  return {
    platform,
    kind: 'image',
    manifest: { ...desc(MediaType.ociManifest, `m-${seed}`), ...(platform ? { platform } : {}) },
    config: desc(MediaType.ociConfig, `c-${seed}`),
    layers: Array.from({ length: layerCount }, (_, i) => desc(MediaType.ociLayerGzip, `l-${seed}-${i}`, 1000 + i)),
  };
}

function plan(request: string, images: PlatformImage[], opts: { digestOnly?: boolean } = {}): ImagePlan {
  const ref = parseReference(request);
  const root = images.length === 1 && !images[0]!.platform ? images[0]!.manifest : desc(MediaType.ociIndex, `i-${request}`);
  return {
    request,
    ref,
    name: opts.digestOnly || !ref.tag ? undefined : `${ref.registry}/${ref.repository}:${ref.tag}`,
    root,
    upstreamDigest: root.digest,
    manifests: [],
    images,
    notes: [],
  };
}

const hex = (d: string): string => d.slice('sha256:'.length);
const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const armv6 = { os: 'linux', architecture: 'arm', variant: 'v6' };
const armv7 = { os: 'linux', architecture: 'arm', variant: 'v7' };
const attestation = { os: 'unknown', architecture: 'unknown' };

describe('ociLayout', () => {
  it('is the 1.0.0 layout marker', () => {
    expect(JSON.parse(ociLayout())).toEqual({ imageLayoutVersion: '1.0.0' });
  });
});

describe('indexJson', () => {
  it('names each image with the full reference and the tag', () => {
    const a = plan('nginx:1.27', [img(undefined, 'a')]);
    const b = plan('127.0.0.1:5000/x/y:1', [img(amd64, 'b1'), img(arm64, 'b2')]);
    const doc = JSON.parse(indexJson([a, b])) as { schemaVersion: number; mediaType: string; manifests: Descriptor[] };
    expect(doc.schemaVersion).toBe(2);
    expect(doc.mediaType).toBe(MediaType.ociIndex);
    expect(doc.manifests).toEqual([
      { mediaType: a.root.mediaType, digest: a.root.digest, size: a.root.size, annotations: { [ANNOTATION_IMAGE_NAME]: 'docker.io/library/nginx:1.27', [ANNOTATION_REF_NAME]: '1.27' } },
      { mediaType: b.root.mediaType, digest: b.root.digest, size: b.root.size, annotations: { [ANNOTATION_IMAGE_NAME]: '127.0.0.1:5000/x/y:1', [ANNOTATION_REF_NAME]: '1' } },
    ]);
  });

  it('names a digest-only image by repository@digest, without a ref.name', () => {
    const p = plan(`quay.io/team/api@${sha256Digest('x')}`, [img(undefined, 'd')]);
    const doc = JSON.parse(indexJson([p])) as { manifests: Descriptor[] };
    expect(doc.manifests[0]!.annotations).toEqual({ [ANNOTATION_IMAGE_NAME]: `quay.io/team/api@${p.root.digest}` });
  });
});

describe('dockerManifestJson', () => {
  const parse = (plans: ImagePlan[], prefer = [amd64]): { entries: DockerManifestEntry[]; repos: Record<string, Record<string, string>> } => {
    const { json, repositories } = dockerManifestJson(plans, prefer);
    return { entries: JSON.parse(json) as DockerManifestEntry[], repos: JSON.parse(repositories) as Record<string, Record<string, string>> };
  };

  const cases: [request: string, repoTag: string][] = [
    ['docker.io/library/nginx:1.27', 'nginx:1.27'],
    ['nginx', 'nginx:latest'],
    ['docker.io/user/app:2', 'user/app:2'],
    ['127.0.0.1:5000/x/y:1', '127.0.0.1:5000/x/y:1'],
    ['quay.io/team/api:v1', 'quay.io/team/api:v1'],
    ['localhost:5000/a:b', 'localhost:5000/a:b'],
  ];
  it.each(cases)('RepoTags use the familiar name: %s -> %s', (request, repoTag) => {
    const { entries } = parse([plan(request, [img(undefined, request)])]);
    expect(entries[0]!.RepoTags).toEqual([repoTag]);
  });

  it('points Config and Layers at blobs/sha256/<hex>, without ./', () => {
    const i = img(undefined, 'p', 3);
    const { entries } = parse([plan('nginx:1.27', [i])]);
    expect(entries).toEqual([
      {
        Config: `blobs/sha256/${hex(i.config.digest)}`,
        RepoTags: ['nginx:1.27'],
        Layers: i.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
      },
    ]);
  });

  it('gives a digest-only image no RepoTags and no repositories entry', () => {
    const { entries, repos } = parse([plan(`nginx@${sha256Digest('q')}`, [img(undefined, 'q')])]);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.RepoTags).toEqual([]);
    expect(repos).toEqual({});
  });

  it('writes repositories as familiar name -> tag -> hex of the top layer', () => {
    const a = img(undefined, 'r', 2);
    const b = img(undefined, 's', 1);
    const { repos } = parse([plan('nginx:1.27', [a]), plan('nginx:1.26', [b]), plan('127.0.0.1:5000/x/y:1', [img(undefined, 't', 0)])]);
    expect(repos).toEqual({
      nginx: { '1.27': hex(a.layers[1]!.digest), '1.26': hex(b.layers[0]!.digest) },
      // no layers at all: the config stands in
      '127.0.0.1:5000/x/y': { '1': expect.stringMatching(/^[a-f0-9]{64}$/) as unknown as string },
    });
  });

  it('lists the preferred platform of a multi-platform image', () => {
    const i1 = img(amd64, 'u1');
    const i2 = img(arm64, 'u2');
    const { entries } = parse([plan('nginx:1', [i1, i2])], [arm64]);
    expect(entries[0]!.Config).toBe(`blobs/sha256/${hex(i2.config.digest)}`);
  });

  it('skips an image with no loadable platform (only attestations)', () => {
    const { entries } = parse([plan('nginx:1', [img(attestation, 'v')])], [amd64]);
    expect(entries).toEqual([]);
  });
});

describe('dockerLoadImage', () => {
  const a = img(amd64, 'a');
  const b = img(arm64, 'b');
  const v6 = img(armv6, 'v6');
  const v7 = img(armv7, 'v7');
  const att = img(attestation, 'att');
  const p = plan('nginx:1', [att, a, v6, v7, b]);
  const cases: [label: string, prefer: string[], want: PlatformImage | undefined][] = [
    ['the requested platform', ['linux/arm64'], b],
    ['the first preferred platform that is present', ['linux/s390x', 'linux/arm64', 'linux/amd64'], b],
    ['arm64/v8 asked as linux/arm64/v8', ['linux/arm64/v8'], b],
    ['linux/arm/v7 over v6', ['linux/arm/v7'], v7],
    ['linux/arm means v7, not the v6 listed first', ['linux/arm'], v7],
    ['no preference: the first real platform, skipping attestations', [], a],
    ['a missing preference: the first real platform', ['windows/amd64'], a],
  ];
  it.each(cases)('%s', (_label, prefer, want) => {
    expect(dockerLoadImage(p, prefer.map(parsePlatform))).toBe(want);
  });

  it('takes a single-platform image (no platform) whatever is preferred', () => {
    const only = img(undefined, 'only');
    expect(dockerLoadImage(plan('nginx:1', [only]), [arm64])).toBe(only);
  });

  it('finds nothing in an image of attestations only', () => {
    expect(dockerLoadImage(plan('nginx:1', [att]), [])).toBeUndefined();
  });
});

describe('ferryMetadata', () => {
  it('records each image, its platforms and what docker load gets', () => {
    const a = img(amd64, 'fa');
    const b = img(arm64, 'fb');
    const p = plan('nginx:1.27', [a, b]);
    const meta = ferryMetadata([p], [arm64], 'ferry 0.1.0', new Date('2025-01-02T03:04:05Z'));
    expect(meta.ferryBundleVersion).toBe(2);
    expect(meta.tool).toBe('ferry 0.1.0');
    expect(meta.created).toBe('2025-01-02T03:04:05.000Z');
    const m = meta.images[0]!;
    expect(m.reference).toBe('nginx:1.27');
    expect(m.name).toBe('docker.io/library/nginx:1.27');
    expect(m.digest).toBe(p.root.digest);
    expect(m.platforms.map((x) => x.platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(m.dockerLoad).toBe(b.manifest.digest);
    expect(m.size).toBe([a, b].reduce((n, i) => n + i.config.size + i.layers.reduce((k, l) => k + l.size, 0), 0));
  });

  it('says null for a digest-only name', () => {
    const meta = ferryMetadata([plan(`nginx@${sha256Digest('z')}`, [img(undefined, 'z')])], [], 't', new Date(0));
    expect(meta.images[0]!.name).toBeNull();
  });
});
