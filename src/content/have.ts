/**
 * `have.json`: what the receiving side already holds (docs/bundle-format.md, "Inventories"),
 * written by `ferry inventory` there and read by `save`/`export --have` here, so that a
 * differential bundle carries only the layers the other side lacks. A small, sorted, versioned
 * list of digests: it travels back across the gap, and two inventories of the same content are
 * the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { FerryError, describe } from '../errors.js';

export const INVENTORY_VERSION = 1;

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a sha256 digest');

export const haveSchema = z
  .object({
    ferryInventoryVersion: z.literal(INVENTORY_VERSION),
    /** What was inventoried: "registry HOST/PREFIX" or "bundles". */
    source: z.string(),
    /** Blob digests present (configs and layers). */
    blobs: z.array(digest),
    /** Manifest and index digests present. */
    manifests: z.array(digest),
  })
  .strict();

export type Have = z.infer<typeof haveSchema>;

/** The inventory document for these digests, sorted and deduplicated. */
export function haveDocument(source: string, blobs: Iterable<string>, manifests: Iterable<string>): Have {
  return { ferryInventoryVersion: INVENTORY_VERSION, source, blobs: [...new Set(blobs)].sort(), manifests: [...new Set(manifests)].sort() };
}

/** Reads and checks a have.json; throws USAGE (exit 2) naming the file and what is wrong. */
export async function readHave(path: string): Promise<Have> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new FerryError('USAGE', `--have ${path}: cannot be read as JSON (${describe(err)})`, { hint: 'pass the have.json that `ferry inventory` wrote on the receiving side' });
  }
  const parsed = haveSchema.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new FerryError('USAGE', `--have ${path}: not an inventory ferry can read:\n  - ${problems.join('\n  - ')}`, { hint: `it must have ferryInventoryVersion ${INVENTORY_VERSION}; write it again with \`ferry inventory\`` });
  }
  return parsed.data;
}
