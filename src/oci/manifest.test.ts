import { describe, expect, it } from 'vitest';
import { FerryError } from '../errors.js';
import { parseManifest } from './manifest.js';
import { MediaType } from './media-types.js';

const dg = (c: string): string => `sha256:${c.repeat(64)}`;
const bytes = (doc: unknown): Buffer => Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));

const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifest,
  config: { mediaType: MediaType.dockerConfig, size: 1469, digest: dg('c') },
  layers: [
    { mediaType: MediaType.dockerLayerGzip, size: 3623807, digest: dg('1') },
    { mediaType: MediaType.dockerForeignLayerGzip, size: 10, digest: dg('2'), urls: ['https://example.com/layer'] },
  ],
};

const ociManifestNoMediaType = {
  schemaVersion: 2,
  config: { mediaType: MediaType.ociConfig, size: 7, digest: dg('c') },
  layers: [{ mediaType: MediaType.ociLayerGzip, size: 32, digest: dg('1') }],
  annotations: { 'org.opencontainers.image.created': '2025-01-01T00:00:00Z' },
};

const ociIndex = {
  schemaVersion: 2,
  mediaType: MediaType.ociIndex,
  manifests: [
    { mediaType: MediaType.ociManifest, size: 100, digest: dg('a'), platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: MediaType.ociManifest, size: 101, digest: dg('b'), platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
  ],
};

const dockerList = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifestList,
  manifests: [
    { mediaType: MediaType.dockerManifest, size: 528, digest: dg('a'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
  ],
};

describe('parseManifest: accepted documents', () => {
  it('docker schema2 manifest', () => {
    const m = parseManifest(bytes(dockerManifest), MediaType.dockerManifest, 'm');
    expect(m).toEqual({
      kind: 'manifest',
      mediaType: MediaType.dockerManifest,
      config: dockerManifest.config,
      layers: dockerManifest.layers,
    });
  });

  it('OCI manifest without a mediaType field and no Content-Type: inferred from its config', () => {
    const m = parseManifest(bytes(ociManifestNoMediaType), undefined, 'm');
    expect(m.kind).toBe('manifest');
    expect(m.mediaType).toBe(MediaType.ociManifest);
    if (m.kind !== 'manifest') throw new Error('not a manifest');
    expect(m.config.digest).toBe(dg('c'));
    expect(m.layers).toEqual(ociManifestNoMediaType.layers);
  });

  it('OCI manifest without a mediaType field takes the Content-Type (parameters ignored)', () => {
    const m = parseManifest(bytes(ociManifestNoMediaType), `${MediaType.ociManifest}; charset=utf-8`, 'm');
    expect(m.mediaType).toBe(MediaType.ociManifest);
  });

  it('OCI index, attestation entries kept with their annotations', () => {
    const m = parseManifest(bytes(ociIndex), MediaType.ociIndex, 'm');
    expect(m).toEqual({ kind: 'index', mediaType: MediaType.ociIndex, manifests: ociIndex.manifests });
  });

  it('OCI index without a mediaType field is inferred from its manifests array', () => {
    const { mediaType: _drop, ...doc } = ociIndex;
    const m = parseManifest(bytes(doc), 'application/octet-stream', 'm');
    expect(m.kind).toBe('index');
    expect(m.mediaType).toBe(MediaType.ociIndex);
  });

  it('docker manifest list', () => {
    const m = parseManifest(bytes(dockerList), MediaType.dockerManifestList, 'm');
    expect(m).toEqual({ kind: 'index', mediaType: MediaType.dockerManifestList, manifests: dockerList.manifests });
  });

  it('the document mediaType wins over the Content-Type header', () => {
    const m = parseManifest(bytes(dockerManifest), MediaType.ociManifest, 'm');
    expect(m.mediaType).toBe(MediaType.dockerManifest);
  });

  it('OCI 1.1 fields (subject, artifactType) do not get in the way', () => {
    const doc = { ...ociManifestNoMediaType, mediaType: MediaType.ociManifest, artifactType: 'application/vnd.example+json', subject: { mediaType: MediaType.ociManifest, size: 1, digest: dg('d') } };
    expect(parseManifest(bytes(doc), undefined, 'm').kind).toBe('manifest');
  });
});

describe('parseManifest: rejected documents', () => {
  const schema1 = { schemaVersion: 1, name: 'library/nginx', tag: 'latest', architecture: 'amd64', fsLayers: [], history: [] };
  const badDigestLayer = { ...dockerManifest, layers: [{ mediaType: MediaType.dockerLayerGzip, size: 1, digest: 'sha256:abc' }] };
  const upperDigest = { ...dockerManifest, config: { ...dockerManifest.config, digest: `sha256:${'A'.repeat(64)}` } };
  const negativeSize = { ...dockerManifest, layers: [{ mediaType: MediaType.dockerLayerGzip, size: -1, digest: dg('1') }] };
  const fractionalSize = { ...dockerManifest, layers: [{ mediaType: MediaType.dockerLayerGzip, size: 1.5, digest: dg('1') }] };
  const stringSize = { ...dockerManifest, config: { ...dockerManifest.config, size: '1469' } };
  const noMediaTypeDescriptor = { ...ociIndex, manifests: [{ size: 1, digest: dg('a') }] };
  const indexNoManifests = { schemaVersion: 2, mediaType: MediaType.ociIndex };
  const manifestNoLayers = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: dockerManifest.config };

  const cases: [label: string, raw: Buffer, headerType: string | undefined, code: string, message: string | RegExp][] = [
    ['schema1 by schemaVersion', bytes(schema1), 'application/json', 'UNSUPPORTED', 'ref: Docker schema1 manifests are not supported'],
    ['schema1 signed by Content-Type', bytes({ schemaVersion: 2 }), MediaType.dockerSchema1Signed, 'UNSUPPORTED', /schema1/],
    ['schema1 by Content-Type', bytes(schema1), MediaType.dockerSchema1, 'UNSUPPORTED', /schema1/],
    ['not JSON', bytes('<html>oops</html>'), MediaType.ociManifest, 'BUNDLE_FORMAT', 'ref: manifest is not valid JSON'],
    ['truncated JSON', bytes('{"schemaVersion": 2, "layers": ['), undefined, 'BUNDLE_FORMAT', 'ref: manifest is not valid JSON'],
    ['JSON null', bytes('null'), undefined, 'BUNDLE_FORMAT', 'ref: manifest is not a JSON object'],
    ['JSON number', bytes('42'), undefined, 'BUNDLE_FORMAT', 'ref: manifest is not a JSON object'],
    ['JSON string', bytes('"manifest"'), undefined, 'BUNDLE_FORMAT', 'ref: manifest is not a JSON object'],
    ['JSON array', bytes('[]'), undefined, 'BUNDLE_FORMAT', /ref: manifest is not a JSON object/],
    ['malformed layer digest', bytes(badDigestLayer), undefined, 'BUNDLE_FORMAT', 'ref layers[0]: "sha256:abc" is not a sha256 digest'],
    ['uppercase config digest', bytes(upperDigest), undefined, 'BUNDLE_FORMAT', /ref config: .* is not a sha256 digest/],
    ['negative size', bytes(negativeSize), undefined, 'BUNDLE_FORMAT', 'ref layers[0]: descriptor size -1 is not a non-negative integer'],
    ['fractional size', bytes(fractionalSize), undefined, 'BUNDLE_FORMAT', 'ref layers[0]: descriptor size 1.5 is not a non-negative integer'],
    ['size as a string', bytes(stringSize), undefined, 'BUNDLE_FORMAT', 'ref config: descriptor size 1469 is not a non-negative integer'],
    ['descriptor without mediaType', bytes(noMediaTypeDescriptor), undefined, 'BUNDLE_FORMAT', 'ref manifests[0]: descriptor has no mediaType'],
    ['index without manifests', bytes(indexNoManifests), undefined, 'BUNDLE_FORMAT', 'ref: index has no manifests array'],
    ['manifest without layers', bytes(manifestNoLayers), undefined, 'BUNDLE_FORMAT', 'ref: manifest has no layers array'],
    ['unknown media type', bytes({ schemaVersion: 2, mediaType: 'application/vnd.example.thing+json' }), undefined, 'UNSUPPORTED', 'ref: unsupported manifest media type "application/vnd.example.thing+json"'],
  ];
  it.each(cases)('%s', (_label, raw, headerType, code, message) => {
    let caught: unknown;
    try {
      parseManifest(raw, headerType, 'ref');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FerryError);
    const e = caught as FerryError;
    expect(e.code).toBe(code);
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
  });

  it('the schema1 error carries a hint', () => {
    let caught: unknown;
    try {
      parseManifest(bytes(schema1), undefined, 'x');
    } catch (err) {
      caught = err;
    }
    expect((caught as FerryError).hint).toMatch(/schema2 or OCI/);
  });
});
