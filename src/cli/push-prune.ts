/**
 * `ferry push --prune [--yes]`: after a push, the tags in the repositories the bundle pushed to
 * that the bundle does not carry, reported, and with --yes deleted. Only those repositories
 * are listed; `sha256-<hex>[.sig|.att|.sbom]` tags (referrer and cosign tags) are never pruned.
 * Deleting is by digest (what registries support), so a stale tag whose digest the bundle
 * carries (under a kept tag, or pushed by digest) is reported but kept: deleting it would
 * delete the carried image too.
 */
import pLimit from 'p-limit';
import { FerryError, wrap } from '../errors.js';
import type { ImagePlan } from '../content/plan.js';
import { deleteManifest } from '../registry/manifest-delete.js';
import { targetRepository, type PushTarget } from '../registry/push-target.js';
import type { Registries } from '../registry/registries.js';
import { listTags } from '../registry/tags.js';
import { digestOfTag } from './delete.js';

export interface PrunedTag {
  repository: string;
  tag: string;
  digest: string;
  /** deleted (--yes), stale (reported only), kept (shares its digest with a carried tag), failed. */
  status: 'deleted' | 'stale' | 'kept' | 'failed';
  note: string | null;
}

const REFERRER_TAG = /^sha256-[a-f0-9]{64}(\..+)?$/;

/**
 * Finds (and with `yes` deletes) the stale tags. `plans` are the images the bundle carries (all
 * of them, pushed or not: a carried tag is never stale). Never throws for one tag: its entry is
 * 'failed' with the reason; throws only when a repository's tags cannot be listed.
 */
export async function pruneTags(plans: readonly ImagePlan[], registries: Registries, target: PushTarget, yes: boolean): Promise<PrunedTag[]> {
  const client = registries.client(target.host);
  const carried = new Map<string, Set<string>>();
  const carriedDigests = new Map<string, Set<string>>();
  for (const p of plans) {
    const repo = targetRepository(target, p.ref);
    const tags = carried.get(repo) ?? new Set<string>();
    if (p.name && p.ref.tag) tags.add(p.ref.tag);
    carried.set(repo, tags);
    carriedDigests.set(repo, (carriedDigests.get(repo) ?? new Set<string>()).add(p.root.digest));
  }
  const limit = pLimit(4);
  const out: PrunedTag[] = [];
  for (const [repository, keep] of [...carried].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const name = `${target.host}/${repository}`;
    const tags = await listTags(client, repository, `listing the tags of ${name} for --prune`);
    const stale = tags.filter((t) => !keep.has(t) && !REFERRER_TAG.test(t)).sort();
    const digestOf = (t: string) => limit(() => digestOfTag(client, repository, t, `resolving ${name}:${t} for --prune`));
    // A digest the bundle carries (also one pushed without a tag) is never deleted.
    const keptDigests = new Set([...carriedDigests.get(repository)!, ...(await Promise.all([...keep].filter((t) => tags.includes(t)).map(digestOf)))]);
    const staleDigests = await Promise.all(stale.map((t) => digestOf(t).catch((err: unknown) => wrap(`resolving ${name}:${t}`, err, 'REGISTRY'))));
    const deleted = new Map<string, Promise<FerryError | undefined>>();
    for (const [k, tag] of stale.entries()) {
      const d = staleDigests[k]!;
      if (d instanceof FerryError) {
        out.push({ repository: name, tag, digest: '', status: 'failed', note: d.message });
        continue;
      }
      if (keptDigests.has(d)) {
        out.push({ repository: name, tag, digest: d, status: 'kept', note: 'has the digest of an image the bundle carries; deleting by digest would delete that image too' });
        continue;
      }
      if (!yes) {
        out.push({ repository: name, tag, digest: d, status: 'stale', note: null });
        continue;
      }
      // Tags sharing a digest go with one DELETE.
      if (!deleted.has(d)) deleted.set(d, deleteManifest(client, repository, d, `deleting ${name}:${tag} (${d})`).then(() => undefined, (err: unknown) => wrap(`deleting ${name}:${tag}`, err, 'REGISTRY')));
      const err = await deleted.get(d)!;
      out.push({ repository: name, tag, digest: d, status: err ? 'failed' : 'deleted', note: err ? err.message : null });
    }
  }
  return out;
}
