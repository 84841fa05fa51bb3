/**
 * `ferry delete REF`: deletes an image's manifest from a registry, by digest (a tag is resolved
 * to its digest first). The registry drops every tag of that repository that pointed to it.
 * Exit 0 deleted, 1 failure (also: the registry does not allow deletes), 2 invalid input.
 */
import { EXIT, FerryError } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
import { formatReference, parseReference } from '../reference/parse-reference.js';
import { deleteManifest } from '../registry/manifest-delete.js';
import { getManifest, headManifest } from '../registry/manifests.js';
import type { RegistryClient } from '../registry/client.js';
import { makeOutput, makeRegistries } from './common.js';
import type { DeleteArgs } from './commands.js';

/** The digest a tag points to: HEAD's Docker-Content-Digest, or the GET bytes hashed when the registry sends none. */
export async function digestOfTag(client: RegistryClient, repository: string, tag: string, what: string): Promise<string> {
  const h = await headManifest(client, repository, tag, what);
  if (!h) throw new FerryError('NOT_FOUND', `${what}: ${client.host}/${repository} has no tag ${tag}`, { hint: 'check the repository and tag (the registry\'s tag list shows what it has)' });
  return h.digest ?? sha256Digest((await getManifest(client, repository, tag, what)).raw);
}

export async function runDelete(a: DeleteArgs): Promise<number> {
  const ref = parseReference(a.ref);
  const out = makeOutput(a);
  const registries = makeRegistries(a);
  try {
    const client = registries.client(ref.registry);
    const name = `${ref.registry}/${ref.repository}`;
    const digest = ref.digest ?? (await digestOfTag(client, ref.repository, ref.tag!, `resolving ${formatReference(ref)}`));
    await deleteManifest(client, ref.repository, digest, `deleting ${name}@${digest}`);
    out.info(`deleted ${name}@${digest}${ref.digest ? '' : ` (was ${formatReference(ref)})`}; every tag of ${name} that pointed to it is gone too`);
    out.report({ command: 'delete', status: 'ok', reference: formatReference(ref), repository: name, digest });
    return EXIT.ok;
  } finally {
    await registries.close();
  }
}
