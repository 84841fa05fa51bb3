/**
 * A bundle that is consistent everywhere except inside one layer: the layer's uncompressed
 * content is changed, the layer is gzipped again and renamed to its new digest, and every
 * manifest, index and top-level document that refers to it is rewritten (and renamed) in turn,
 * so every blob still hashes to its name and every descriptor still matches. Only the config's
 * `diff_ids`, which are left alone, disagree — what `ferry verify --deep` and `docker load`
 * find by decompressing.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { TarEntry } from './internal-tar.js';

const BLOB = /^blobs\/sha256\/([a-f0-9]{64})$/;
const TOP_LEVEL = new Set(['index.json', 'ferry.json', 'manifest.json', 'repositories']);

function hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Flips one byte in the middle of the first non-empty regular file of an uncompressed layer
 * tar (file data, not a header, so the tar stays valid). Throws if the layer has no such file.
 */
export function flipFileByteInLayerTar(tar: Buffer): Buffer {
  const out = Buffer.from(tar);
  for (let pos = 0; pos + 512 <= out.length; ) {
    const header = out.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    if ((type === '0' || type === '\0') && size > 0) {
      const at = pos + 512 + Math.floor(size / 2);
      out[at] = out[at]! ^ 0x01;
      return out;
    }
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('flipFileByteInLayerTar: no regular file with content in the layer');
}

/** Replaces every old hex digest in `text` with its new one. */
function replaceHexes(text: string, renamed: Map<string, string>): string {
  let s = text;
  for (const [from, to] of renamed) s = s.split(from).join(to);
  return s;
}

/** Sets `size` of every descriptor whose (new) digest has a new size. */
function fixSizes(node: unknown, sizes: Map<string, number>): void {
  if (Array.isArray(node)) {
    for (const n of node) fixSizes(n, sizes);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (typeof o.digest === 'string' && typeof o.size === 'number') {
    const size = sizes.get(o.digest);
    if (size !== undefined) o.size = size;
  }
  for (const v of Object.values(o)) fixSizes(v, sizes);
}

/**
 * Returns `entries` with layer `layerDigest` replaced by gzip(mutate(gunzip(layer))) and every
 * reference to it (and to each manifest or index that changed because of it) rewritten.
 * Also returns the map old digest -> new digest.
 */
export function relabelLayer(
  entries: readonly TarEntry[],
  layerDigest: string,
  mutate: (uncompressed: Buffer) => Buffer,
): { entries: TarEntry[]; renamed: Map<string, string> } {
  const oldHex = layerDigest.replace(/^sha256:/, '');
  const renamed = new Map<string, string>();
  const sizes = new Map<string, number>();
  let out = entries.map((e) => ({ header: { ...e.header }, data: e.data }));
  const layer = out.find((e) => e.header.name === `blobs/sha256/${oldHex}`);
  if (!layer) throw new Error(`relabelLayer: no layer ${layerDigest}`);
  layer.data = gzipSync(mutate(gunzipSync(layer.data)));
  const newHex = hex(layer.data);
  renamed.set(oldHex, newHex);
  sizes.set(`sha256:${newHex}`, layer.data.length);
  layer.header.name = `blobs/sha256/${newHex}`;

  // Rewrite JSON blobs that mention a renamed digest until nothing changes (manifests, then
  // the indexes that list them).
  for (let changed = true; changed; ) {
    changed = false;
    out = out.map((e) => {
      const m = BLOB.exec(e.header.name);
      if (!m || e.data.length > 1024 * 1024 || e.data[0] !== 0x7b) return e;
      const text = e.data.toString('utf8');
      if (![...renamed.keys()].some((h) => text.includes(h))) return e;
      const doc = JSON.parse(replaceHexes(text, renamed)) as unknown;
      fixSizes(doc, sizes);
      const data = Buffer.from(JSON.stringify(doc));
      const h = hex(data);
      renamed.set(m[1]!, h);
      sizes.set(`sha256:${h}`, data.length);
      changed = true;
      return { header: { ...e.header, name: `blobs/sha256/${h}` }, data };
    });
  }
  out = out.map((e) => {
    if (!TOP_LEVEL.has(e.header.name)) return e;
    const doc = JSON.parse(replaceHexes(e.data.toString('utf8'), renamed)) as unknown;
    fixSizes(doc, sizes);
    return { header: e.header, data: Buffer.from(JSON.stringify(doc)) };
  });
  return {
    entries: out,
    renamed: new Map([...renamed].map(([a, b]) => [`sha256:${a}`, `sha256:${b}`])),
  };
}
