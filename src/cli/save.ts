/**
 * `ferry save REF... -o FILE`: pull images from registries (no daemon) into one bundle.
 * Exit 0 on success, 1 on failure, 2 on invalid input (docs/cli.md).
 */
import { UsageError } from '../errors.js';
import { parsePlatformSelection, type PlatformSpec, DEFAULT_PLATFORM, parsePlatform } from '../oci/platform.js';
import { parseReference } from '../reference/parse-reference.js';
import { dockerLoadZstdNote } from '../bundle/layout.js';
import { bundleTime, sourceDateEpoch } from '../bundle/bundle-time.js';
import { writeBundle, type Compression } from '../bundle/writer.js';
import type { ImageRequest } from '../transfer/pull.js';
import { pullIntoBundle } from './pull-into-bundle.js';
import { planBlobs, planSize, uniqueBlobBytes } from '../content/plan.js';
import { TOOL } from '../version.js';
import { claimOutput } from './claim-output.js';
import { readHave } from '../content/have.js';
import { concurrencyOption, makeOutput, makeRegistries, openStore, splitOption, writtenName } from './common.js';
import { formatBytes } from './output.js';
import { imageReport, runReport } from './report.js';
import type { SaveArgs } from './commands.js';
import { judgeBeforeBundle, policyForBundling } from './policy-check.js';


/** Preferred platforms for the docker-load view: the requested ones, then linux/amd64. */
export function preferredPlatforms(values: readonly string[]): PlatformSpec[] {
  const sel = parsePlatformSelection(values);
  return sel.all ? [parsePlatform(DEFAULT_PLATFORM)] : [...sel.platforms, parsePlatform(DEFAULT_PLATFORM)];
}

export async function runSave(a: SaveArgs): Promise<number> {
  const images = a.images ?? [];
  if (images.length === 0) throw new UsageError('ferry save needs at least one image reference', 'e.g. ferry save docker.io/library/busybox:1.36 -o bundles/busybox.tar.gz');
  const concurrency = concurrencyOption(a.concurrency);
  const platforms = parsePlatformSelection(a.platform);
  const have = a.have !== undefined ? new Set((await readHave(a.have)).blobs) : undefined;
  const requests: ImageRequest[] = images.map((s) => ({ request: s, ref: parseReference(s), platforms, referrers: a.referrers, allowNondistributable: a['allow-nondistributable'], ...(have ? { have } : {}) }));
  const seen = new Set<string>();
  for (const r of requests) {
    const key = `${r.ref.registry}/${r.ref.repository}:${r.ref.tag ?? ''}@${r.ref.digest ?? ''}`;
    if (seen.has(key)) throw new UsageError(`image ${r.request} is listed twice`);
    seen.add(key);
  }
  sourceDateEpoch(); // validated before any work
  const split = splitOption(a.split, a.compression);
  const policy = await policyForBundling(a.policy, a.referrers);
  const outputLock = await claimOutput(a.output);
  const out = makeOutput(a);
  const registries = makeRegistries(a);
  try {
    const store = await openStore(a);
    const started = Date.now();
    const { results, written, writeError } = await pullIntoBundle(requests, registries, store, concurrency, {
      onResolved: (p) => out.start(p.request, p.request, planSize(p)),
      onBytes: (p, n) => out.progress(p.request, n),
      onDone: (r) => out.done(r.request.request, r.error ? { failed: true } : { moved: r.fetch?.downloadedBytes ?? 0 }),
    }, undefined, async (plans, ready, take) => {
      if (policy) {
        // The policy judges the signatures the pull brings: wait for every blob, then judge.
        await Promise.all(plans.flatMap(planBlobs).map((d) => ready(d.digest)));
        await judgeBeforeBundle(policy, plans, store, out);
      }
      for (const p of plans) for (const n of p.notes) out.warn(n);
      const zstd = dockerLoadZstdNote(plans, preferredPlatforms(a.platform));
      if (zstd) out.warn(zstd);
      out.start('bundle', `writing ${a.output}`, uniqueBlobBytes(plans));
      return writeBundle(plans, store, {
        created: await bundleTime(plans, store),
        out: a.output,
        compression: a.compression as Compression,
        prefer: preferredPlatforms(a.platform),
        tool: TOOL,
        onBytes: (n) => out.progress('bundle', n),
        ready,
        take,
        ...(split !== undefined ? { split } : {}),
      });
    }, a.output);
    const failed = results.filter((r) => r.error);
    if (failed.length) {
      out.stop();
      throw failed[0]!.error!;
    }
    if (!written) throw writeError;
    out.stop();
    const secs = (Date.now() - started) / 1000;
    for (const r of results) out.info(`saved ${r.request.request} ${r.plan!.root.digest}`);
    out.info(`wrote ${writtenName(written)} (${formatBytes(written.bytes)}, ${results.length} image${results.length === 1 ? '' : 's'}, ${secs.toFixed(1)} s)`);
    out.report(runReport('save', written, results.map((r) => imageReport(r)), 'ok'));
    return 0;
  } finally {
    out.stop();
    await registries.close();
    await outputLock.release();
  }
}
