/** Listing a repository's tags (OCI distribution spec, "Listing Tags"), every page. */
import { repoScope, type RegistryClient } from './client.js';
import { PAGE_SIZE, listAll } from './paginate.js';

/**
 * Every tag of `repository`, in the registry's order (lexical for the CNCF registry). A
 * repository the registry does not know throws NOT_FOUND; `what` names the listing in errors.
 */
export function listTags(client: RegistryClient, repository: string, what = `listing the tags of ${client.host}/${repository}`, pageSize = PAGE_SIZE): Promise<string[]> {
  return listAll(client, `/v2/${repository}/tags/list?n=${pageSize}`, 'tags', [repoScope(repository, 'pull')], what);
}
