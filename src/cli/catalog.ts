/** `ferry catalog REGISTRY`: every repository the registry lists (`_catalog`, every page). Exit 0, 1, 2. */
import { UsageError } from '../errors.js';
import { listCatalog } from '../registry/catalog.js';
import type { CatalogArgs } from './commands.js';
import { makeOutput, makeRegistries } from './common.js';

export async function runCatalog(a: CatalogArgs): Promise<number> {
  const host = a.registry.replace(/^docker:\/\//, '').replace(/\/+$/, '');
  if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host) && !/^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) {
    throw new UsageError(`"${a.registry}" is not a registry HOST[:PORT]`, 'e.g. ferry catalog registry.example.org or ferry catalog 127.0.0.1:5000');
  }
  const registries = makeRegistries(a);
  try {
    const repositories = await listCatalog(registries.client(host));
    const out = makeOutput(a);
    if (a.json) out.report({ command: 'catalog', status: 'ok', registry: host, repositories });
    else for (const r of repositories) process.stdout.write(`${r}\n`);
    return 0;
  } finally {
    await registries.close();
  }
}
