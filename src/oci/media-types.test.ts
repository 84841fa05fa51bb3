import { describe, expect, it } from 'vitest';
import { MediaType, isCompressedMediaType, isZstdMediaType, zstdLayerNote } from './media-types.js';

describe('isZstdMediaType', () => {
  it.each([
    [MediaType.ociLayerZstd, true],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', true],
    [MediaType.ociLayerGzip, false],
    [MediaType.dockerLayerGzip, false],
    [MediaType.ociLayer, false],
    ['application/vnd.oci.image.layer.v1.tar+zstd+encrypted', false],
    [undefined, false],
  ])('%s -> %s', (mt, want) => {
    expect(isZstdMediaType(mt)).toBe(want);
    if (want) expect(isCompressedMediaType(mt!)).toBe(true);
  });
});

describe('zstdLayerNote', () => {
  const gz = { mediaType: MediaType.ociLayerGzip };
  const zs = { mediaType: MediaType.ociLayerZstd };

  it('says nothing when no image has a zstd layer', () => {
    expect(zstdLayerNote([{ reference: 'a:1', layers: [gz] }, { reference: 'b:1', layers: [] }])).toBeUndefined();
  });

  it('names the one image with zstd layers', () => {
    expect(zstdLayerNote([{ reference: 'a:1', layers: [gz, zs] }, { reference: 'b:1', layers: [gz] }])).toBe(
      'a:1 has zstd-compressed layers: `docker load` (and `ferry load`) of this bundle needs Docker Engine 23.0 or later, older engines cannot decompress them; `ferry push` to a registry carries them unchanged',
    );
  });

  it('counts and lists several', () => {
    expect(zstdLayerNote([{ reference: 'a:1', layers: [zs] }, { reference: 'b:1', layers: [zs] }])).toMatch(/^2 images have zstd-compressed layers \(a:1, b:1\): /);
  });
});
