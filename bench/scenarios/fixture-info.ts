/** The fixture facts results.json records for a scenario. */
import type { BigImage } from '../fixtures/big-image.js';
import type { HugeImage } from '../fixtures/huge-layer.js';
import type { SmallImages } from '../fixtures/small-images.js';

export const bigInfo = (f: BigImage | HugeImage): Record<string, unknown> => ({
  size: 'size' in f ? f.size : `huge ${f.GiB} GiB`,
  version: f.version,
  compressedBytes: f.compressedBytes,
  uncompressedBytes: f.uncompressedBytes,
  layers: f.layers,
});

export const smallInfo = (f: SmallImages, count = f.images.length): Record<string, unknown> => ({ version: f.version, images: count, compressedBytes: f.images.slice(0, count).reduce((n, im) => n + im.bytes, 0) });
