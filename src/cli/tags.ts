/** `ferry tags REPO`: every tag of a repository, one a line (every page). Exit 0, 1, 2 (docs/cli.md). */
import { UsageError } from '../errors.js';
import { parseReference } from '../reference/parse-reference.js';
import { listTags } from '../registry/tags.js';
import type { TagsArgs } from './commands.js';
import { makeOutput, makeRegistries } from './common.js';

export async function runTags(a: TagsArgs): Promise<number> {
  const text = a.repository.startsWith('docker://') ? a.repository.slice('docker://'.length) : a.repository;
  if (text.includes('@') || /:[^/]*$/.test(text.replace(/^[^/]*\//, ''))) {
    throw new UsageError(`${a.repository} names a tag or digest; ferry tags takes a repository`, `e.g. ferry tags ${text.replace(/[@:][^/]*$/, '')}`);
  }
  const ref = parseReference(text);
  const registries = makeRegistries(a);
  try {
    const tags = await listTags(registries.client(ref.registry), ref.repository);
    const out = makeOutput(a);
    if (a.json) out.report({ command: 'tags', status: 'ok', repository: `${ref.registry}/${ref.repository}`, tags });
    else for (const t of tags) process.stdout.write(`${t}\n`);
    return 0;
  } finally {
    await registries.close();
  }
}
