/**
 * The head of a ferry bundle: its JSON documents come before the first blob, so reading stops
 * there once `ferry.json` has been seen. Other archives (docker save, skopeo, OCI layouts
 * without ferry.json) are read whole, and `metadata` is undefined.
 */
import { FerryError } from '../errors.js';
import { FERRY_JSON, type FerryMetadata } from './layout.js';
import { readArchive, type ArchiveContents } from './reader.js';

export interface BundleHead {
  /** ferry.json, when the archive is a ferry bundle. */
  metadata: FerryMetadata | undefined;
  /** What was read: the head only for a ferry bundle (`partial`), else the whole archive. */
  contents: ArchiveContents;
}

/** Reads the head of the archive at `path`. Throws BUNDLE_FORMAT for a damaged head or ferry.json. */
export async function readBundleHead(path: string): Promise<BundleHead> {
  const contents = await readArchive(path, async () => undefined, {
    stopBefore: (name, c) => name.startsWith('blobs/') && c.small.has(FERRY_JSON),
  });
  if (!contents.partial) return { metadata: undefined, contents };
  try {
    return { metadata: JSON.parse(contents.small.get(FERRY_JSON)!.toString('utf8')) as FerryMetadata, contents };
  } catch (err) {
    throw new FerryError('BUNDLE_FORMAT', `bundle entry "${FERRY_JSON}" of ${path} is not valid JSON`, { cause: err });
  }
}
