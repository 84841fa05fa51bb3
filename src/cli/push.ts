/**
 * `ferry push BUNDLE --to HOST[:PORT][/PREFIX]`: push every image of a bundle into a registry
 * with its original bytes (same digests). Exit 0 all pushed, 1 failure, 2 invalid input,
 * 3 some images pushed and some not.
 */
import { writeFileAtomic } from '../fs/atomic-write.js';
import { checkOutputPath } from '../fs/output-path.js';
import { setInterruptMessage } from '../process/interrupt.js';
import { basename } from 'node:path';
import { EXIT, FerryError, UsageError } from '../errors.js';
import { synthesizeManifest } from '../bundle/synthesize.js';
import type { Descriptor } from '../oci/manifest.js';
import { parsePushTarget } from '../registry/push-target.js';
import { pushPlans } from '../transfer/push.js';
import { planSize } from '../content/plan.js';
import { concurrencyOption, makeOutput, makeRegistries, openStore } from './common.js';
import { errorJson } from './report.js';
import { openBundle } from './open-bundle.js';
import { judge, loadPolicy, rejectedError, type Verdict } from './policy-check.js';
import type { PushArgs } from './commands.js';
import { pruneTags, type PrunedTag } from './push-prune.js';
import type { ImagePlan } from '../content/plan.js';
import type { PushTarget } from '../registry/push-target.js';
import type { Registries } from '../registry/registries.js';
import type { Output } from './output.js';
import { bundleSize } from '../bundle/volume-set.js';

/** --prune: finds (with --yes deletes) the stale tags and says what it found or did. */
async function pruneAndSay(plans: ImagePlan[], registries: Registries, target: PushTarget, yes: boolean, out: Output): Promise<PrunedTag[]> {
  const pruned = await pruneTags(plans, registries, target, yes);
  for (const p of pruned) {
    const what = `${p.repository}:${p.tag}${p.digest ? ` (${p.digest})` : ''}`;
    if (p.status === 'deleted') out.info(`pruned ${what}`);
    else if (p.status === 'stale') out.info(`stale: ${what} is not in the bundle`);
    else out.warn(`${p.status === 'kept' ? 'not pruned' : 'pruning failed'}: ${what}: ${p.note}`);
  }
  const stale = pruned.filter((p) => p.status === 'stale').length;
  if (stale) out.info(`${stale} stale tag${stale === 1 ? '' : 's'}; push again with --prune --yes to delete ${stale === 1 ? 'it' : 'them'}`);
  else if (!pruned.length) out.info('--prune: no stale tags');
  return pruned;
}


export function defaultMappingFile(bundle: string): string {
  return `${basename(bundle).replace(/\.\d{3}$/, '').replace(/\.tar(\.gz)?$|\.tgz$/, '')}.mapping.json`;
}

export async function runPush(a: PushArgs): Promise<number> {
  const target = parsePushTarget(a.to, a['keep-registry-host']);
  if (a.yes && !a.prune) throw new UsageError('--yes only goes with --prune', 'ferry push BUNDLE --to TARGET --prune --yes deletes the tags the bundle does not carry');
  const concurrency = concurrencyOption(a.concurrency);
  const policy = a.policy !== undefined ? await loadPolicy(a.policy) : undefined;
  const mappingFile = a['mapping-file'] ?? defaultMappingFile(a.bundle);
  await checkOutputPath(mappingFile, 'the mapping file', 'choose another path with --mapping-file');
  const out = makeOutput(a);
  const registries = makeRegistries(a);
  try {
    const store = await openStore(a);
    out.info(`reading ${a.bundle}`);
    let pushed = 0;
    setInterruptMessage(() => `interrupted: nothing was pushed (reading ${a.bundle})`);
    // A missing file is reported by the reader, with its hint.
    const size = await bundleSize(a.bundle);
    let reading = false;
    const opened = await openBundle(a.bundle, store, () => {
      if (size === undefined) return undefined;
      reading = true;
      out.start('read', `reading ${a.bundle} into the cache`, size);
      return (n) => out.progress('read', n);
    });
    if (reading) out.done('read');
    const it = opened.interpretation;
    const unnamed = it.images.filter((i) => !i.name && i.plan.ref.registry === 'unnamed');
    if (unnamed.length === it.images.length) throw new UsageError(`${a.bundle} holds no named images to push`);
    let plans = it.images.filter((i) => !unnamed.includes(i)).map((i) => i.plan);
    // The policy judges before anything reaches the target: a rejected image is never pushed.
    let rejected: Verdict[] = [];
    if (policy) {
      const verdicts = await judge(policy, plans, (d) => opened.readSmall(d), out);
      rejected = verdicts.filter((v) => v.verdict === 'rejected');
      if (rejected.length && (!a['keep-going'] || rejected.length === plans.length)) throw rejectedError(verdicts, policy, '; nothing was pushed');
      plans = plans.filter((_, i) => verdicts[i]!.verdict === 'accepted');
    }
    const compressed = new Map<string, Promise<Descriptor>>();
    for (const img of it.images) if (img.synthesized && !unnamed.includes(img)) await synthesizeManifest(img.plan, store, compressed);
    for (const p of plans) for (const n of p.notes) out.warn(n);
    for (const p of plans) out.start(p.request, p.request, planSize(p));
    setInterruptMessage(() => `interrupted: ${pushed} of ${plans.length} images pushed to ${target.host}; push again to finish (blobs already there are skipped)`);
    const { results, fatal } = await pushPlans(plans, opened.source, registries, target, { concurrency, onBytes: (p, n) => out.progress(p.request, n), onDone: () => pushed++ });
    // pushPlans returns one result per plan, in the plans' order.
    results.forEach((r, i) => out.done(plans[i]!.request, r.error ? { failed: true } : r.blobs.uploaded ? {} : { label: r.blobs.mounted ? 'mounted' : 'present' }));
    out.stop();
    const ok = results.filter((r) => !r.error);
    // Each failure is printed once: the one that ends the run as the error, the others as
    // warnings; a connection failure shared by the images not pushed only as the error.
    const final = fatal ?? (ok.length === 0 ? results.find((r) => r.error)!.error! : undefined);
    for (const r of results) {
      if (r.error) {
        if (r.error !== final) out.warn(`${r.source}: ${r.error.message}`);
      } else out.info(`pushed ${r.source} -> ${r.target} (${r.blobs.uploaded} uploaded, ${r.blobs.mounted} mounted, ${r.blobs.exists} present)`);
    }
    if (ok.length > 0) {
      const mapping = { registry: target.host, images: ok.map((r) => ({ source: r.source, target: r.target, digest: r.digest })) };
      await writeFileAtomic(mappingFile, `${JSON.stringify(mapping, null, 2)}\n`, { what: 'the mapping file' });
    }
    const pruned = a.prune && !fatal ? await pruneAndSay(plans, registries, target, a.yes, out) : undefined;
    out.report({
      command: 'push',
      status: ok.length === results.length ? 'ok' : ok.length ? 'partial' : 'failed',
      mappingFile: ok.length > 0 ? mappingFile : null,
      images: results.map((r) => ({ source: r.source, target: r.target, digest: r.digest, blobs: r.blobs, status: r.error ? 'failed' : 'ok', error: r.error ? errorJson(r.error) : null })),
      ...(final ? { error: errorJson(final) } : {}),
      ...(pruned ? { prune: pruned } : {}),
    });
    if (ok.length === results.length && rejected.length) {
      throw new FerryError('PARTIAL', `${rejected.length} image${rejected.length === 1 ? ' was' : 's were'} rejected by the policy and not pushed; the other ${ok.length} were`, { hint: 'see the policy lines above' });
    }
    const pruneFailed = pruned?.filter((p) => p.status === 'failed') ?? [];
    if (pruneFailed.length && ok.length === results.length) throw new FerryError('REGISTRY', `--prune: ${pruneFailed.length} stale tag${pruneFailed.length === 1 ? '' : 's'} could not be deleted: ${pruneFailed[0]!.note}`, { hint: 'see the warnings above; the push itself succeeded' });
    if (ok.length === results.length) return EXIT.ok;
    if (ok.length === 0) throw final!;
    const notPushed = `${results.length - ok.length} of ${results.length} images were not pushed`;
    if (fatal) throw new FerryError('PARTIAL', `${notPushed}: ${fatal.message}`, { cause: fatal, hint: fatal.hint ?? 'fix the cause and push again (present blobs are skipped)' });
    throw new FerryError('PARTIAL', notPushed, { hint: 'see the warnings above; fix the cause and push again (present blobs are skipped)' });
  } finally {
    out.stop();
    await registries.close();
  }
}
