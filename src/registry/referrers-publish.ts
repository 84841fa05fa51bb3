/**
 * Publishing referrers in a registry after a push (see transfer/referrers.ts for how they are
 * found). Tagged ones (cosign's, and a carried fallback index) are pushed under their tags with
 * their bytes by the push itself.
 */
import { MediaType } from '../oci/media-types.js';
import { FerryError } from '../errors.js';
import { MAX_MANIFEST_BYTES, parseManifest, type Descriptor } from '../oci/manifest.js';
import { readCapped } from '../util/streams.js';
import { fallbackTag } from '../oci/referrer-tags.js';
import type { ImagePlan, PlannedReferrer } from '../content/plan.js';
import { repoScope, type RegistryClient } from './client.js';
import { getManifest, headManifest, putManifest } from './manifests.js';

/** The descriptors the referrers API lists for `digest`, or undefined when the registry has no such API. */
export async function referrersApi(client: RegistryClient, repository: string, digest: string, what: string): Promise<Descriptor[] | undefined> {
  const res = await client.send({
    method: 'GET',
    path: `/v2/${repository}/referrers/${digest}`,
    scopes: [repoScope(repository, 'pull')],
    headers: { accept: MediaType.ociIndex },
    accept: [200, 400, 404, 405],
    what,
  });
  if (res.status !== 200) {
    await res.body.dump();
    return undefined;
  }
  const raw = await readCapped(res.body, MAX_MANIFEST_BYTES, () => new FerryError('REGISTRY', `${what}: the referrers index of ${digest} is larger than ${MAX_MANIFEST_BYTES} bytes`));
  const parsed = parseManifest(raw, MediaType.ociIndex, `${what}: referrers of ${digest}`);
  return parsed.kind === 'index' ? parsed.manifests : [];
}

/**
 * After a push: makes the plan's referrers discoverable in the target. Tagged ones (cosign's,
 * and a carried fallback index) were pushed under their tags with their bytes. Referrers found
 * through the referrers API have no tag: when the target has that API it indexes them from
 * their `subject` itself; otherwise ferry writes the fallback tag `sha256-<hex>`, an index of
 * them merged with what that tag already lists. Resolves with the tags written.
 */
export async function publishReferrers(client: RegistryClient, repository: string, plan: ImagePlan, what: string): Promise<string[]> {
  const written: string[] = [];
  const bySubject = new Map<string, PlannedReferrer[]>();
  for (const r of plan.referrers ?? []) {
    if (r.tag) continue;
    // The carried fallback index already recreates this subject's tag.
    if ((plan.referrers ?? []).some((x) => x.subject === r.subject && x.tag === fallbackTag(r.subject))) continue;
    bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r]);
  }
  for (const [subject, refs] of bySubject) {
    if (await referrersApi(client, repository, subject, what)) continue;
    const tag = fallbackTag(subject);
    const existing = (await headManifest(client, repository, tag, what)) ? await getManifest(client, repository, tag, what) : undefined;
    const listed = existing?.parsed.kind === 'index' ? existing.parsed.manifests : [];
    const manifests = [...listed, ...refs.filter((r) => !listed.some((d) => d.digest === r.digest)).map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.size, ...(r.artifactType ? { artifactType: r.artifactType } : {}) }))];
    if (manifests.length === listed.length) continue;
    const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
    await putManifest(client, repository, tag, raw, MediaType.ociIndex, `${what}: referrers tag ${tag}`);
    written.push(tag);
  }
  return written;
}
