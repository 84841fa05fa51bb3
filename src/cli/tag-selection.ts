/**
 * Turning a manifest file's tag selections (`tags:`) into images, for `ferry export`: by
 * listing each repository's tags (a plain export), or from the lock file (`--locked`, which
 * lists nothing and so reproduces the locked set even after new tags appear).
 */
import { FerryError } from '../errors.js';
import { expandSelection, type LoadedManifest, type ManifestImage } from '../manifest-file/load.js';
import type { LockFile } from '../manifest-file/lock.js';
import { selectTags } from '../manifest-file/tag-select.js';
import { formatReference, parseReference } from '../reference/parse-reference.js';
import type { Registries } from '../registry/registries.js';
import { listTags } from '../registry/tags.js';

const keyOf = (i: ManifestImage): string => `${formatReference(i.ref)}|${i.name ? formatReference(i.name) : ''}`;

/**
 * The manifest with every selection replaced by its images. An image that a hand-written entry
 * (or an earlier selection) already carries is not added twice.
 */
function expand(m: LoadedManifest, tagsOf: (i: ManifestImage) => string[]): LoadedManifest {
  const listed = new Set(m.images.filter((i) => !i.selection).map(keyOf));
  const images: ManifestImage[] = [];
  for (const i of m.images) {
    if (!i.selection) {
      images.push(i);
      continue;
    }
    for (const x of expandSelection(i, tagsOf(i))) {
      if (listed.has(keyOf(x))) continue;
      listed.add(keyOf(x));
      images.push(x);
    }
  }
  return { ...m, images };
}

/**
 * Lists the tags of every selection's repository (once per repository) and chooses from them.
 * Returns the expanded manifest and a note for each selection that chose no tag. Throws as
 * listTags (NOT_FOUND for an unknown repository, AUTH, NETWORK), and MANIFEST_FILE (exit 2)
 * when no image is left.
 */
export async function expandByListing(m: LoadedManifest, registries: Registries): Promise<{ manifest: LoadedManifest; notes: string[] }> {
  const lists = new Map<string, Promise<string[]>>();
  const chosen = new Map<ManifestImage, string[]>();
  const notes: string[] = [];
  await Promise.all(
    m.images.filter((i) => i.selection).map(async (i) => {
      const s = i.selection!;
      let tags: string[];
      if (Array.isArray(s.selector)) tags = selectTags([], s.selector, s.limit);
      else {
        const repo = `${i.ref.registry}/${i.ref.repository}`;
        if (!lists.has(repo)) lists.set(repo, listTags(registries.client(i.ref.registry), i.ref.repository, `listing the tags of ${repo} (${i.origin})`));
        tags = selectTags(await lists.get(repo)!, s.selector, s.limit);
      }
      if (!tags.length) notes.push(`${s.key} (${i.origin}) chose no tag`);
      chosen.set(i, tags);
    }),
  );
  const manifest = expand(m, (i) => chosen.get(i)!);
  if (!manifest.images.length) {
    throw new FerryError('MANIFEST_FILE', `${m.path}: the tag selections chose no tag (${notes.join('; ')}), so there is nothing to export`, { hint: 'check the ranges and expressions against the registry\'s tags' });
  }
  return { manifest, notes };
}

/**
 * The selections' images as the lock recorded them (its images with the selection's
 * `selectedBy`), without asking any registry. Throws MANIFEST_FILE (exit 2) naming the
 * selections the lock has no image for (a new or changed selection: export without --locked).
 */
export function expandFromLock(m: LoadedManifest, lock: LockFile | undefined, lockFile: string): LoadedManifest {
  const missing = m.images.filter((i) => i.selection && !lock?.images.some((l) => l.selectedBy === i.selection!.key));
  if (missing.length) {
    throw new FerryError('MANIFEST_FILE', `--locked: ${lockFile} ${lock ? 'does not lock' : 'does not exist, so it cannot lock'} ${missing.map((i) => `${i.selection!.key} (${i.origin})`).join(', ')}`, {
      hint: 'run ferry export without --locked to resolve and lock them, and commit the lock file',
    });
  }
  return expand(m, (i) => lock!.images.filter((l) => l.selectedBy === i.selection!.key).map((l) => parseReference(l.ref).tag!).filter(Boolean));
}
