/**
 * `ferry tag SRC NEWTAG`: gives an image in a registry another tag without pulling it (as
 * `crane tag`): GETs the manifest bytes by SRC and PUTs the same bytes under NEWTAG in the same
 * repository, so the new tag has the same digest. Exit 0 tagged, 1 failure, 2 invalid input.
 */
import { EXIT, FerryError, UsageError } from '../errors.js';
import { formatReference, manifestIdentifier, parseReference } from '../reference/parse-reference.js';
import { getManifest, putManifest } from '../registry/manifests.js';
import { makeOutput, makeRegistries } from './common.js';
import type { TagArgs } from './commands.js';

const TAG = /^[\w][\w.-]{0,127}$/;

export async function runTag(a: TagArgs): Promise<number> {
  const src = parseReference(a.source);
  const tag = a.tag.replace(/^:/, '');
  if (!TAG.test(tag)) {
    throw new UsageError(`"${a.tag}" is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`, 'give the new tag alone, e.g. ferry tag registry.internal/team/app:1.4 stable (the image stays in its repository)');
  }
  const dest = formatReference({ ...src, tag, digest: undefined });
  const out = makeOutput(a);
  const registries = makeRegistries(a);
  try {
    const client = registries.client(src.registry);
    const m = await getManifest(client, src.repository, manifestIdentifier(src), `reading manifest of ${formatReference(src)}`);
    const got = await putManifest(client, src.repository, tag, m.raw, m.mediaType, `tagging ${formatReference(src)} as ${dest}`);
    if (got && got !== m.digest) {
      throw new FerryError('DIGEST_MISMATCH', `tagging ${formatReference(src)} as ${dest}: the registry stored manifest ${m.digest} as ${got}`, { hint: 'the registry rewrote the manifest; it does not preserve digests' });
    }
    out.info(`tagged ${dest} -> ${m.digest}`);
    out.report({ command: 'tag', status: 'ok', source: formatReference(src), target: dest, digest: m.digest });
    return EXIT.ok;
  } finally {
    await registries.close();
  }
}
