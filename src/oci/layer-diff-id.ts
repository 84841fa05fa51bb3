/**
 * The DiffID of a layer (OCI image-spec config.md, `rootfs.diff_ids`): the sha256 of its
 * uncompressed tar. The compression is sniffed from the first bytes (gzip 1F 8B, zstd
 * 28 B5 2F FD), not taken from the media type, so a mislabelled layer is still checked against
 * what it really holds; anything else is hashed as it is (an uncompressed tar).
 */
import { createHash } from 'node:crypto';
import type { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { FerryError } from '../errors.js';
import { writeChunk } from '../util/streams.js';
import { createZstdDecompress, isZstdHead } from './zstd-decompress.js';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** The compression `head` (the first bytes of a layer, at least 4 when there are that many) says. */
export function sniffLayerCompression(head: Uint8Array): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (isZstdHead(head)) return 'zstd';
  return 'none';
}

function decoderFor(kind: LayerCompression): Transform | undefined {
  if (kind === 'gzip') return createGunzip({ chunkSize: 256 * 1024 });
  if (kind === 'zstd') return createZstdDecompress();
  return undefined;
}

/** A decoder failure in words: truncated or corrupted, naming the compression. */
export function decodeErrorText(kind: LayerCompression, err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; truncated?: unknown };
  if (kind === 'zstd') return String(e.message);
  if (e.code === 'Z_BUF_ERROR' || /unexpected end/i.test(String(e.message))) return 'the gzip data ends early (truncated)';
  return `the gzip data is corrupted (${String(e.message)})`;
}

/**
 * Resolves the diff_id (`sha256:<hex>`) of the layer bytes in `body`, and how they were
 * compressed. Reads `body` to its end even when the data does not decompress (so a caller that
 * also hashes the compressed bytes sees all of them), then throws a FerryError BUNDLE_FORMAT
 * saying the data is truncated or corrupted: never a digest of half a layer.
 */
export async function layerDiffId(body: AsyncIterable<Uint8Array>): Promise<{ diffId: string; compression: LayerCompression }> {
  const hash = createHash('sha256');
  const it = body[Symbol.asyncIterator]();
  // Gather at least four bytes to sniff the magic; tar-stream may hand over tiny first chunks.
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < 4) {
    const n = await it.next();
    if (n.done) {
      ended = true;
      break;
    }
    head.push(Buffer.from(n.value.buffer, n.value.byteOffset, n.value.byteLength));
    headLen += n.value.byteLength;
  }
  const compression = sniffLayerCompression(Buffer.concat(head));
  const decoder = decoderFor(compression);
  if (!decoder) {
    for (const c of head) hash.update(c);
    if (!ended) for (let n = await it.next(); !n.done; n = await it.next()) hash.update(n.value);
    return { diffId: `sha256:${hash.digest('hex')}`, compression };
  }

  let failure: unknown;
  decoder.on('data', (c: Buffer) => hash.update(c));
  const finished = new Promise<void>((resolve) => {
    decoder.once('end', resolve);
    decoder.once('error', (err) => {
      failure ??= err;
      resolve();
    });
  });
  const feed = async (c: Uint8Array): Promise<void> => {
    if (failure !== undefined) return; // keep draining the body, feed nothing more
    await writeChunk(decoder, Buffer.from(c.buffer, c.byteOffset, c.byteLength)).catch((err: unknown) => {
      failure ??= err;
    });
  };
  for (const c of head) await feed(c);
  if (!ended) for (let n = await it.next(); !n.done; n = await it.next()) await feed(n.value);
  if (failure === undefined) decoder.end();
  await finished;
  if (failure !== undefined) {
    throw new FerryError('BUNDLE_FORMAT', `the layer does not decompress: ${decodeErrorText(compression, failure)}`, { cause: failure });
  }
  return { diffId: `sha256:${hash.digest('hex')}`, compression };
}
