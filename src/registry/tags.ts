/** Listing a repository's tags (OCI distribution spec, "Listing Tags"), every page. */
import { repoScope, type RegistryClient } from './client.js';
import { PAGE_SIZE, listAll } from './paginate.js';

/** Every tag of `repository`, in the registry's order (lexical for the CNCF registry). */
export function listTags(client: RegistryClient, repository: string, pageSize = PAGE_SIZE): Promise<string[]> {
  return listAll(client, `/v2/${repository}/tags/list?n=${pageSize}`, 'tags', [repoScope(repository, 'pull')], `listing the tags of ${client.host}/${repository}`);
}
