/**
 * Finding the signatures, attestations and SBOMs of an image in a source (a registry, an OCI
 * layout), the three ways they are published:
 * - the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`: an index of referrers);
 * - its fallback, the referrers tag schema (a tag `sha256-<hex>` holding that index), for
 *   registries without the API;
 * - cosign's tags (`sha256-<hex>.sig`, `.att`, `.sbom`).
 * Every referrer manifest found is fetched by digest and verified; its blobs become part of the
 * plan (as 'artifact' entries), so they are downloaded, verified and carried like the image's.
 * The fallback index and cosign's tagged manifests are carried with their tags, so a push
 * recreates them byte for byte. Referrers of referrers are not followed.
 */
import { COSIGN_SUFFIXES, fallbackTag } from '../oci/referrer-tags.js';
import { formatReference } from '../reference/parse-reference.js';
import type { FetchedManifest, ImageSource } from '../content/image-source.js';
import { platformImageOf, type ImagePlan, type PlannedReferrer } from '../content/plan.js';


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
export async function discoverReferrers(source: ImageSource, plan: ImagePlan): Promise<void> {
  const repository = plan.ref.repository;
  const what = `finding signatures and attestations of ${formatReference(plan.ref)}`;
  const subjects = [...new Set([plan.upstreamDigest, plan.root.digest, ...plan.images.map((i) => i.manifest.digest)])];
  // Every lookup of every subject at once (they are small requests, mostly 404s); the results
  // are added in a fixed order, so the same referrers give the same bundle bytes.
  const found = await Promise.all(
    subjects.map(async (subject) => {
      const byDigest = async (digest: string): Promise<FetchedManifest> => (await source.manifest(repository, digest, `${what}: referrer ${digest}`))!;
      const tag = fallbackTag(subject);
      const [listed, index, cosign] = await Promise.all([
        source.referrers(repository, subject, what),
        source.manifest(repository, tag, `${what}: referrers tag ${tag}`, true),
        Promise.all(COSIGN_SUFFIXES.map((suffix) => source.manifest(repository, `${tag}.${suffix}`, `${what}: ${tag}.${suffix}`, true))),
      ]);
      const viaApi = listed ? await Promise.all(listed.map((d) => byDigest(d.digest))) : [];
      const viaTag = !listed && index?.parsed.kind === 'index' ? await Promise.all(index.parsed.manifests.map((d) => byDigest(d.digest))) : [];
      return { subject, tag, viaApi, viaTag, index: !listed && index?.parsed.kind === 'index' ? index : undefined, cosign };
    }),
  );
  for (const f of found) {
    for (const m of [...f.viaApi, ...f.viaTag]) addReferrer(plan, m, f.subject, undefined);
    // The tag's index itself, so that a push recreates the same tag with the same bytes.
    if (f.index) addReferrer(plan, f.index, f.subject, f.tag);
    f.cosign.forEach((m, i) => {
      if (m) addReferrer(plan, m, f.subject, `${f.tag}.${COSIGN_SUFFIXES[i]}`);
    });
  }
}
