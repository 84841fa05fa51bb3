/**
 * Reading a volume set of the drop directory for an import run: its checksum file's lines, the
 * volumes' hashes (each, and their concatenation's: the set's identity), their sizes and times
 * around the hash, and the sets an earlier run moved (or was moving) into done/ or failed/.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSetSidecar } from '../bundle/volume-set.js';
import type { VolumeFile } from '../import/candidates.js';
import { volumeName, type DropFile, type MovedSet } from '../import/drop.js';

/** The lines of a set's checksum file (volume file name, hex), in order; undefined when there is none. */
export async function setLines(base: string): Promise<[string, string][] | undefined> {
  const lines = await readSetSidecar(base);
  return lines?.size ? [...lines] : undefined;
}

/** Hashes each volume and, in the same pass, their concatenation (in part order). */
export async function hashSet(volumes: readonly VolumeFile[]): Promise<{ volumes: Map<string, string>; sha256: string; bytes: number }> {
  const total = createHash('sha256');
  const each = new Map<string, string>();
  let bytes = 0;
  for (const v of volumes) {
    const h = createHash('sha256');
    for await (const c of createReadStream(v.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      h.update(c);
      total.update(c);
      bytes += c.length;
    }
    each.set(v.name, h.digest('hex'));
  }
  return { volumes: each, sha256: total.digest('hex'), bytes };
}

export const restat = (vs: readonly VolumeFile[]): Promise<DropFile[]> =>
  Promise.all(vs.map(async (v) => {
    const st = await stat(v.path).catch(() => undefined);
    return { name: v.name, size: st?.size ?? -1, mtimeMs: st?.mtimeMs ?? -1 };
  }));

/** The sets in done/ and failed/ whose name is `name` or `name` with `~N` (where an earlier run moves them). */
export async function movedSets(dirs: readonly (string | undefined)[], name: string): Promise<MovedSet[]> {
  const m = /^(.*?)(\.tar\.gz|\.tgz|\.tar)?$/.exec(name)!;
  const mine = (n: string) => n === name || (n.startsWith(`${m[1]}~`) && n.endsWith(m[2] ?? '') && /^\d+$/.test(n.slice(m[1]!.length + 1, n.length - (m[2] ?? '').length)));
  const out: MovedSet[] = [];
  for (const dir of dirs) {
    if (!dir) continue;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) {
      if (!n.endsWith('.sha256') || !mine(n.slice(0, -'.sha256'.length))) continue;
      const setName = n.slice(0, -'.sha256'.length);
      const lines = await setLines(join(dir, setName));
      if (lines) out.push({ dir, name: setName, lines, volumes: names.filter((f) => volumeName(f)?.base === setName) });
    }
  }
  return out;
}

