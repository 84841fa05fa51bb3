/**
 * Finding the signatures, attestations and SBOMs of an image in a registry, the three ways they
 * are published:
 * - the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`: an index of referrers);
 * - its fallback, the referrers tag schema (a tag `sha256-<hex>` holding that index), for
 *   registries without the API;
 * - cosign's tags (`sha256-<hex>.sig`, `.att`, `.sbom`).
 * Every referrer manifest found is fetched by digest and verified; its blobs become part of the
 * plan (as 'artifact' entries), so they are downloaded, verified and carried like the image's.
 * The fallback index and cosign's tagged manifests are carried with their tags, so a push
 * recreates them byte for byte. Referrers of referrers are not followed.
 */
import { digestHex } from '../digest/digest.js';
import { parseManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { formatReference } from '../reference/parse-reference.js';
import { platformImageOf, type ImagePlan, type PlannedReferrer } from '../transfer/plan.js';
import { repoScope, type RegistryClient } from './client.js';
import { getManifest, headManifest, putManifest, type FetchedManifest } from './manifests.js';

/** cosign's tag suffixes: signatures, attestations, SBOMs. */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

/** The referrers tag schema's tag for a subject digest: `sha256-<hex>`. */
export const fallbackTag = (digest: string): string => `sha256-${digestHex(digest)}`;

/** The descriptors the referrers API lists for `digest`, or undefined when the registry has no such API. */
async function referrersApi(client: RegistryClient, repository: string, digest: string, what: string): Promise<{ digest: string; artifactType?: string }[] | undefined> {
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
  const raw = Buffer.from(await res.body.arrayBuffer());
  const parsed = parseManifest(raw, MediaType.ociIndex, `${what}: referrers of ${digest}`);
  return parsed.kind === 'index' ? parsed.manifests : [];
}

/** Adds a referrer manifest (fetched and verified) and its blobs to the plan, once. */
function addReferrer(plan: ImagePlan, m: FetchedManifest, subject: string, tag: string | undefined): void {
  plan.referrers ??= [];
  if (plan.referrers.some((r) => r.digest === m.digest && r.tag === tag)) return;
  if (!plan.manifests.some((x) => x.digest === m.digest)) plan.manifests.push({ digest: m.digest, mediaType: m.mediaType, raw: m.raw });
  const image = m.parsed.kind === 'manifest' ? { ...platformImageOf(m.parsed, { mediaType: m.mediaType, digest: m.digest, size: m.raw.length }, undefined), kind: 'artifact' as const } : undefined;
  const artifactType = image ? image.artifactType : m.parsed.kind === 'index' ? m.parsed.artifactType : undefined;
  const r: PlannedReferrer = { digest: m.digest, mediaType: m.mediaType, size: m.raw.length, artifactType, subject, tag, image };
  plan.referrers.push(r);
}

/**
 * Discovers the referrers of the plan's root and of each of its manifests, and adds them to the
 * plan. A registry that answers none of the ways is not an error: the image has no referrers.
 */
export async function discoverReferrers(client: RegistryClient, plan: ImagePlan): Promise<void> {
  const repository = plan.ref.repository;
  const what = `finding signatures and attestations of ${formatReference(plan.ref)}`;
  const subjects = [...new Set([plan.upstreamDigest, plan.root.digest, ...plan.images.map((i) => i.manifest.digest)])];
  for (const subject of subjects) {
    const listed = await referrersApi(client, repository, subject, what);
    if (listed) {
      for (const d of listed) addReferrer(plan, await getManifest(client, repository, d.digest, `${what}: referrer ${d.digest}`), subject, undefined);
    } else {
      const tag = fallbackTag(subject);
      if (await headManifest(client, repository, tag, what)) {
        const index = await getManifest(client, repository, tag, `${what}: referrers tag ${tag}`);
        if (index.parsed.kind === 'index') {
          for (const d of index.parsed.manifests) addReferrer(plan, await getManifest(client, repository, d.digest, `${what}: referrer ${d.digest}`), subject, undefined);
          // The tag's index itself, so that a push recreates the same tag with the same bytes.
          addReferrer(plan, index, subject, tag);
        }
      }
    }
    for (const suffix of COSIGN_SUFFIXES) {
      const tag = `${fallbackTag(subject)}.${suffix}`;
      if (!(await headManifest(client, repository, tag, what))) continue;
      addReferrer(plan, await getManifest(client, repository, tag, `${what}: ${tag}`), subject, tag);
    }
  }
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
