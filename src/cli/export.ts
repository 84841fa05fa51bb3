/**
 * `ferry export MANIFEST.yaml`: the nightly job. Validates the manifest file, resolves every
 * image (or, with --locked, exactly the locked digests), fetches blobs into the cache, writes
 * the bundle and the lock file. When every tag still resolves to its locked digest (HEAD only)
 * and the bundle on disk was made for that lock, nothing is rewritten: "unchanged".
 * Exit 0 ok or unchanged, 1 failure, 2 invalid input, 3 partial (--keep-going).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, FerryError } from '../errors.js';
import { dockerLoadZstdNote, type BundleSettings } from '../bundle/layout.js';
import { sourceDateEpoch } from '../bundle/bundle-time.js';
import type { Compression } from '../bundle/writer.js';
import { loadManifestFile, type LoadedManifest, type ManifestImage } from '../manifest-file/load.js';
import { lockDigest, lockedDigests, lockFromPlans, lockPath, readLock, writeLock, type LockFile, type LockedImage } from '../manifest-file/lock.js';
import { formatReference } from '../reference/parse-reference.js';
import { headManifest } from '../registry/manifests.js';
import type { Registries } from '../registry/registries.js';
import type { PullResult } from '../transfer/pull.js';
import { planBlobs, planSize, uniqueBlobBytes, type ImagePlan } from '../content/plan.js';
import { checkSidecar } from '../bundle/sidecar.js';
import { checkSetSidecar, findVolumeSet, type VolumeSet } from '../bundle/volume-set.js';
import { claimOutput } from './claim-output.js';
import { sha256Digest } from '../digest/digest.js';
import { checkOutputPath } from '../fs/output-path.js';
import { TOOL } from '../version.js';
import { concurrencyOption, makeOutput, makeRegistries, openStore, splitOption, writtenName } from './common.js';
import { formatBytes } from './output.js';
import { imageReport, runReport, type ImageReport } from './report.js';
import type { ExportArgs } from './commands.js';
import { readBundleHead } from '../bundle/head.js';
import type { Policy } from '../policy/policy-file.js';


/** The key an image has in the lock: its reference and bundle name. */
function lockKey(ref: string, name: string | null): string {
  return `${ref}|${name ?? ''}`;
}

function imageKey(i: ManifestImage): string {
  return lockKey(formatReference(i.ref), i.name ? formatReference(i.name) : null);
}

function lockedFor(lock: LockFile | undefined, i: ManifestImage): LockedImage | undefined {
  const key = imageKey(i);
  return lock?.images.find((l) => lockKey(l.ref, l.name) === key && JSON.stringify(l.platforms) === JSON.stringify(i.platformStrings));
}

/**
 * Whether the bundle at `out` can be reported "unchanged": it was written for `lock` (its
 * ferry.json names the lock's digest), it still is the file that was written (its full sha256
 * matches the checksum file beside it, so a truncated or overwritten bundle is rewritten), and
 * every tag still resolves to its locked digest (HEAD only). Resolves with the reason when not.
 */
type Unchanged = { ok: true; sha256: string; bytes: number } | { ok: false; why?: string };

async function unchanged(m: LoadedManifest, lock: LockFile | undefined, out: string, registries: Registries, settings: BundleSettings, split: number | undefined): Promise<Unchanged> {
  if (!lock || lock.images.length !== m.images.length) return { ok: false };
  if (!m.images.every((i) => lockedFor(lock, i))) return { ok: false };
  // Volumes (--split): the set at out.001..., written with the same SIZE, each volume intact.
  let set: VolumeSet | undefined;
  if (split !== undefined) {
    try {
      set = await findVolumeSet(out);
    } catch (err) {
      return { ok: false, why: (err as Error).message };
    }
    if (!set || set.volumes[0]!.header.split !== split) return { ok: false };
  } else if (!(await stat(out).catch(() => undefined))) return { ok: false };
  try {
    const { metadata } = await readBundleHead(out);
    if (metadata?.lock !== lockDigest(lock)) return { ok: false };
    // Written with other options (--compression, --no-referrers, --allow-nondistributable), or
    // before ferry recorded them: not the bundle this run would write.
    if (JSON.stringify(metadata.settings) !== JSON.stringify(settings)) return { ok: false };
  } catch {
    return { ok: false, why: `${out} cannot be read as a bundle` };
  }
  const [intact, moved] = await Promise.all([
    set ? checkSetSidecar(set) : checkSidecar(out),
    Promise.all(
      m.images.map(async (i) => {
        if (i.ref.digest) return false;
        const l = lockedFor(lock, i)!;
        const h = await headManifest(registries.client(i.ref.registry), i.ref.repository, i.ref.tag!, `checking ${i.request}`);
        return !h?.digest || h.digest !== l.upstreamDigest;
      }),
    ),
  ]);
  if (moved.some(Boolean)) return { ok: false };
  if (!intact.ok) return { ok: false, why: intact.why };
  return intact;
}

export async function runExport(a: ExportArgs): Promise<number> {
  const concurrency = concurrencyOption(a.concurrency);
  const loaded = await loadManifestFile(a.manifest);
  const lockFile = lockPath(a.manifest);
  const lock = await readLock(lockFile);
  // Tag selections: from the lock under --locked (no listing), else listed below.
  let manifest = a.locked ? (await import('./tag-selection.js')).expandFromLock(loaded, lock, lockFile) : loaded;
  if (a.locked) {
    const missing = manifest.images.filter((i) => !lockedFor(lock, i));
    if (missing.length) {
      throw new FerryError('MANIFEST_FILE', `--locked: ${lockFile} ${lock ? 'does not lock' : 'does not exist, so it cannot lock'} ${missing.map((i) => `${i.request} (${i.origin})`).join(', ')}`, {
        hint: 'run ferry export without --locked to resolve and lock them, and commit the lock file',
      });
    }
  }
  if (a['dry-run']) return (await import('./export-dry-run.js')).runExportDryRun(a, manifest, (i) => (a.locked ? lockedFor(lock, i)!.upstreamDigest : undefined));
  const out = a.output ?? join('bundles', `${manifest.bundle}.tar.gz`);
  sourceDateEpoch(); // validated before any work
  const split = splitOption(a.split, a.compression);
  const policy: Policy | undefined = a.policy === undefined ? undefined : await (await import('./policy-check.js')).policyForBundling(a.policy, a.referrers);
  if (!a.locked) await checkOutputPath(lockFile, 'the lock file', 'the lock file goes beside the manifest file: run from a copy in a writable directory, or use --locked');
  const runLock = await claimOutput(out);
  const output = makeOutput(a);
  const registries = makeRegistries(a, { insecure: manifest.insecure, caFiles: manifest.caFiles });
  try {
    if (!a.locked && manifest.images.some((i) => i.selection)) {
      const x = await (await import('./tag-selection.js')).expandByListing(manifest, registries);
      manifest = x.manifest;
      for (const n of x.notes) output.warn(n);
    }
    const without = manifest.images.filter((i) => i.referrers === false).map((i) => i.request);
    const haveDoc = a.have !== undefined ? await (await import('../content/have.js')).readHave(a.have) : undefined;
    const haveSet = haveDoc ? new Set(haveDoc.blobs) : undefined;
    const settings: BundleSettings = {
      compression: a.compression,
      referrers: a.referrers ? (without.length ? without : true) : false,
      nondistributable: a['allow-nondistributable'],
      // A differential bundle is "unchanged" only against the same inventory.
      ...(haveDoc ? { have: sha256Digest(Buffer.from(JSON.stringify(haveDoc))) } : {}),
    };
    // With a policy, signatures are judged afresh: they can change while the tags stay put.
    const same: Unchanged = a.force || policy ? { ok: false } : await unchanged(manifest, lock, out, registries, settings, split);
    if (same.ok) {
      // Keep the locked blobs young in the cache, so `cache prune --older-than` spares them.
      const store = await openStore(a);
      await Promise.all(lockedDigests(lock!).map((d) => store.touch(d)));
      output.info(`${out}: unchanged (${manifest.images.length} images still resolve to the locked digests; sha256 ${same.sha256.slice(0, 12)} checked)`);
      const images: ImageReport[] = lock!.images.map((l) => ({
        reference: l.ref, name: l.name, digest: l.digest, upstreamDigest: l.upstreamDigest,
        platforms: l.images.map((x) => ({ platform: x.platform, manifest: x.manifest, config: x.config })),
        bytes: l.images.reduce((n, x) => n + x.layers.reduce((k, y) => k + y.size, 0), 0),
        downloadedBytes: 0, blobsDownloaded: 0, blobsCached: 0, status: 'unchanged', error: null, notes: [],
      }));
      output.report(runReport('export', { path: out, sha256: same.sha256, bytes: same.bytes }, images, 'unchanged'));
      return EXIT.ok;
    }
    if (same.why) output.warn(`${same.why}; rewriting it from the cache`);
    // What writing a bundle needs is loaded only now: an unchanged re-export never needs it, and
    // loading it costs start-up time (tar, the pull engine, sigstore's modules).
    const [{ writeBundle }, { bundleTime }, { resolveRequest }, { pullIntoBundle, bundleFromCache }, { preferredPlatforms }, { judgeBeforeBundle }] = await Promise.all([
      import('../bundle/writer.js'), import('../bundle/bundle-time.js'), import('../transfer/pull.js'), import('./pull-into-bundle.js'), import('./save.js'), import('./policy-check.js'),
    ]);
    const store = await openStore(a);
    const resolver = a.locked
      ? (r: ManifestImage) => resolveRequest(registries, { ...r, ref: { ...r.ref, digest: lockedFor(lock, r)!.upstreamDigest } })
      : (r: ManifestImage) => resolveRequest(registries, r);
    const requests = manifest.images.map((i) => ({ ...i, ...(a.referrers === false ? { referrers: false as const } : {}), allowNondistributable: a['allow-nondistributable'], ...(haveSet ? { have: haveSet } : {}) }));
    const prefer = preferredPlatforms([]);
    /** The bundle's plans (each image's docker-load view prefers its own platforms) and its lock. */
    const shape = (ok: PullResult[], plansOf: (r: PullResult) => ImagePlan) => {
      const newLock = lockFromPlans(ok.map((r) => {
        const i = r.request as ManifestImage;
        return { ref: formatReference(i.ref), name: i.name ? formatReference(i.name) : null, platforms: i.platformStrings, ...(i.selection ? { selectedBy: i.selection.key } : {}), plan: plansOf(r) };
      }));
      const plans = ok.map((r) => ({ ...plansOf(r), prefer: preferredPlatforms((r.request as ManifestImage).platformStrings) }));
      return { newLock, plans };
    };
    const write = async (plans: ImagePlan[], lock: ReturnType<typeof lockFromPlans>, ready?: (d: string) => Promise<boolean>, take?: (d: string) => Buffer | undefined) => {
      if (policy) {
        // The policy judges the signatures the pull brings: wait for every blob, then judge.
        if (ready) await Promise.all(plans.flatMap(planBlobs).map((d) => ready(d.digest)));
        await judgeBeforeBundle(policy, plans, store, output);
      }
      for (const p of plans) for (const n of p.notes) output.warn(n);
      const zstd = dockerLoadZstdNote(plans, prefer);
      if (zstd) output.warn(zstd);
      output.start('bundle', `writing ${out}`, uniqueBlobBytes(plans));
      return writeBundle(plans, store, { out, created: await bundleTime(plans, store), compression: a.compression as Compression, settings, prefer, tool: TOOL, lock: lockDigest(lock), onBytes: (n) => output.progress('bundle', n), ...(ready ? { ready } : {}), ...(take ? { take } : {}), ...(split !== undefined ? { split } : {}) });
    };
    // The copy engine, registries -> bundle: written while the layers download (pull-into-bundle.ts).
    const pulled = await pullIntoBundle(requests, registries, store, concurrency, {
      onResolved: (p) => output.start(p.request, p.request, planSize(p)),
      onBytes: (p, n) => output.progress(p.request, n),
      onDone: (r) => output.done(r.request.request, r.error ? { failed: true } : { moved: r.fetch?.downloadedBytes ?? 0 }),
    }, (r) => resolver(r as ManifestImage), async (plans, ready, take) => {
      const byRequest = new Map(plans.map((p, i) => [requests[i]!, p] as const));
      const { newLock, plans: shaped } = shape(requests.map((r) => ({ request: r, plan: byRequest.get(r)! })), (x) => x.plan!);
      return write(shaped, newLock, ready, take);
    }, out);
    const results: PullResult[] = pulled.results;
    output.stop();
    const failed = results.filter((r) => r.error);
    const ok = results.filter((r) => !r.error);
    if (failed.length && (!a['keep-going'] || ok.length === 0)) {
      output.report(runReport('export', null, results.map((r) => imageReport(r)), 'failed'));
      for (const f of failed.slice(1)) output.warn(f.error!.message);
      throw failed[0]!.error!;
    }
    const { newLock } = shape(ok, (r) => r.plan!);
    let written = pulled.written;
    if (!written) {
      if (pulled.writeError !== undefined) throw pulled.writeError;
      // --keep-going: the images that arrived, from the cache.
      written = await bundleFromCache(store, shape(ok, (r) => r.plan!).plans, (plans, ready, take) => write(plans, newLock, ready, take), out);
    }
    output.stop();
    const lockChanged = a.locked ? false : await writeLock(lockFile, newLock);
    for (const r of ok) output.info(`exported ${r.request.request} ${r.plan!.root.digest}`);
    const downloaded = ok.reduce((n, r) => n + (r.fetch?.downloadedBytes ?? 0), 0);
    output.info(`wrote ${writtenName(written)} (${formatBytes(written.bytes)}, ${ok.length} image${ok.length === 1 ? '' : 's'}, ${formatBytes(downloaded)} downloaded)${lockChanged ? `; updated ${lockFile}` : ''}`);
    for (const f of failed) output.warn(`not bundled: ${f.error!.message}`);
    output.report(runReport('export', written, results.map((r) => imageReport(r)), failed.length ? 'partial' : 'ok'));
    if (failed.length) throw new FerryError('PARTIAL', `${failed.length} of ${results.length} images failed; the bundle holds the other ${ok.length}`, { hint: 'see the warnings above' });
    return EXIT.ok;
  } finally {
    output.stop();
    await runLock.release();
    await registries.close();
  }
}
