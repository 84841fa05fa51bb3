/**
 * The checksum file beside a bundle, `<bundle>.sha256`, in `sha256sum -c` format
 * ("<hex>  <name>\n"): what it says, and whether the bundle still hashes to it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** The sidecar path of a bundle. */
export const sidecarPath = (bundle: string): string => `${bundle}.sha256`;

/** The sidecar line for a bundle with this sha256 hex. */
export const sidecarText = (bundle: string, hex: string): string => `${hex}  ${basename(bundle)}\n`;

/** The sha256 hex the sidecar of `bundle` names, or undefined when there is none (or it is not one). */
export async function readSidecar(bundle: string): Promise<string | undefined> {
  const text = await readFile(sidecarPath(bundle), 'utf8').catch(() => undefined);
  const hex = text?.split(/\s+/)[0];
  return hex && /^[a-f0-9]{64}$/.test(hex) ? hex : undefined;
}

/** sha256 hex and size of a file. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) {
      hash.update(c);
      bytes += c.length;
    }
    yield* [];
  });
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Whether `bundle` still is the file its sidecar describes (full sha256). Resolves with the
 * hash and size when it is, with a reason for people when it is not.
 */
export async function checkSidecar(bundle: string): Promise<{ ok: true; sha256: string; bytes: number } | { ok: false; why: string }> {
  const want = await readSidecar(bundle);
  if (!want) return { ok: false, why: `${bundle} has no checksum file ${basename(sidecarPath(bundle))}` };
  const got = await hashFile(bundle).catch(() => undefined);
  if (!got) return { ok: false, why: `${bundle} cannot be read` };
  if (got.sha256 !== want) return { ok: false, why: `${bundle} does not match its checksum file (it was changed or damaged after it was written: sha256 ${got.sha256.slice(0, 12)}, ${got.bytes} bytes; expected ${want.slice(0, 12)})` };
  return { ok: true, ...got };
}
