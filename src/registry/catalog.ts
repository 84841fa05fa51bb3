/**
 * Listing a registry's repositories (`GET /v2/_catalog`, the CNCF registry's extension of the
 * distribution API; many hosted registries refuse it), every page.
 */
import type { RegistryClient } from './client.js';
import { PAGE_SIZE, listAll } from './paginate.js';

/** Every repository name the registry lists. Throws AUTH or NOT_FOUND when it does not allow it. */
export function listCatalog(client: RegistryClient, pageSize = PAGE_SIZE): Promise<string[]> {
  return listAll(client, `/v2/_catalog?n=${pageSize}`, 'repositories', ['registry:catalog:*'], `listing the repositories of ${client.host}`);
}
