/**
 * `ferry inventory --registry HOST[/PREFIX]` or `ferry inventory BUNDLE...`: writes have.json
 * (content/have.ts), the blobs and manifests this side holds, to carry back to the internet
 * side for `save`/`export --have`. A registry is read with `_catalog`, `tags/list` and manifest
 * GETs under the prefix (as `push --to` maps names), never a blob; bundles are read whole and
 * checked. Exit 0 written, 1 failure, 2 invalid input.
 */
import pLimit from 'p-limit';
import { UsageError } from '../errors.js';
import { haveDocument } from '../content/have.js';
import { verifyArchive } from '../bundle/verify.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { checkOutputPath } from '../fs/output-path.js';
import { isIndexType } from '../oci/media-types.js';
import { listCatalog } from '../registry/catalog.js';
import { getManifest } from '../registry/manifests.js';
import { parsePushTarget } from '../registry/push-target.js';
import type { RegistryClient } from '../registry/client.js';
import { listTags } from '../registry/tags.js';
import type { InventoryArgs } from './commands.js';
import { makeOutput, makeRegistries } from './common.js';

/** The blobs and manifests of every tag of the repositories under `prefix`. */
async function registryInventory(client: RegistryClient, prefix: string): Promise<{ blobs: Set<string>; manifests: Set<string>; repositories: number }> {
  const repos = (await listCatalog(client)).filter((r) => !prefix || r === prefix || r.startsWith(`${prefix}/`));
  const blobs = new Set<string>();
  const manifests = new Set<string>();
  const limit = pLimit(8);
  const walk = async (repo: string, ref: string): Promise<void> => {
    const m = await getManifest(client, repo, ref, `inventorying ${client.host}/${repo}:${ref}`);
    if (manifests.has(m.digest) && ref.startsWith('sha256:')) return;
    manifests.add(m.digest);
    if (m.parsed.kind === 'index') {
      await Promise.all(m.parsed.manifests.map((d) => (isIndexType(d.mediaType) || !manifests.has(d.digest) ? walk(repo, d.digest) : undefined)));
    } else {
      blobs.add(m.parsed.config.digest);
      for (const l of m.parsed.layers) blobs.add(l.digest);
    }
  };
  await Promise.all(repos.map((repo) => limit(async () => {
    const tags = await listTags(client, repo);
    for (const t of tags) await walk(repo, t);
  })));
  return { blobs, manifests, repositories: repos.length };
}

export async function runInventory(a: InventoryArgs): Promise<number> {
  const bundles = a.bundles ?? [];
  if (!a.registry && bundles.length === 0) throw new UsageError('ferry inventory needs --registry HOST[/PREFIX] or bundles', 'e.g. ferry inventory --registry registry.internal:5000/mirror -o have.json');
  if (a.registry && bundles.length) throw new UsageError('ferry inventory takes --registry or bundles, not both');
  await checkOutputPath(a.output, 'the inventory', 'choose another path with -o');
  const out = makeOutput(a);
  let doc;
  if (a.registry) {
    const target = parsePushTarget(a.registry, false);
    const registries = makeRegistries(a);
    try {
      const inv = await registryInventory(registries.client(target.host), target.prefix);
      doc = haveDocument(`registry ${a.registry}`, inv.blobs, inv.manifests);
      out.info(`${a.registry}: ${inv.repositories} repositories, ${doc.manifests.length} manifests, ${doc.blobs.length} blobs`);
    } finally {
      await registries.close();
    }
  } else {
    const blobs = new Set<string>();
    const manifests = new Set<string>();
    for (const b of bundles) {
      const r = await verifyArchive(b, false);
      if (r.problems.length) throw new UsageError(`${b} failed its checks, so it cannot be inventoried:\n  - ${r.problems.join('\n  - ')}`, 'run `ferry verify` on it');
      for (const i of r.interpretation.images) {
        for (const m of i.plan.manifests) manifests.add(m.digest);
      }
      for (const f of r.contents.files.values()) if (/^blobs\/sha256\/[a-f0-9]{64}$/.test(f.name) && !manifests.has(f.digest)) blobs.add(f.digest);
    }
    doc = haveDocument('bundles', blobs, manifests);
    out.info(`${bundles.length} bundle${bundles.length === 1 ? '' : 's'}: ${doc.manifests.length} manifests, ${doc.blobs.length} blobs`);
  }
  await writeFileAtomic(a.output, `${JSON.stringify(doc, null, 2)}\n`, { what: 'the inventory' });
  out.info(`wrote ${a.output}`);
  out.report({ command: 'inventory', status: 'ok', output: a.output, source: doc.source, manifests: doc.manifests.length, blobs: doc.blobs.length });
  return 0;
}
