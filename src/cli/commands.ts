/**
 * Every command's arguments and options, in one light module: `ferry --help` and argument
 * errors never load the registry client, the YAML parser or zod. Each command's implementation
 * (save.ts, export.ts, ...) is imported only when that command runs (main.ts).
 */
import type { Argv } from 'yargs';
import { DEFAULT_PLATFORM } from '../oci/platform.js';

export interface GlobalArgs {
  quiet: boolean;
  json: boolean;
  debug: boolean;
}

/** The arguments a command's builder gives its handler: derived, so options and types cannot drift apart. */
export type ArgsOf<B> = B extends (y: Argv<GlobalArgs>) => Argv<infer T> ? T : never;

const registryOptions = {
  'insecure-registry': { type: 'string', array: true, default: [] as string[], describe: 'allow plain HTTP or unverified TLS for this registry HOST[:PORT] (repeatable); loopback registries always are' },
  'ca-file': { type: 'string', describe: 'PEM file with CA certificates to trust in addition to the system ones' },
} as const;

const cacheOptions = {
  'cache-dir': { type: 'string', describe: 'blob cache directory (default $XDG_CACHE_HOME/ferry or ~/.cache/ferry)' },
} as const;

function withRegistryOptions<T>(y: Argv<T>) {
  return y.options(registryOptions);
}

function withCacheOption<T>(y: Argv<T>) {
  return y.options(cacheOptions);
}

export type RegistryArgs = ArgsOf<(y: Argv<GlobalArgs>) => ReturnType<typeof withRegistryOptions<GlobalArgs>>>;
export type CacheArgs = ArgsOf<(y: Argv<GlobalArgs>) => ReturnType<typeof withCacheOption<GlobalArgs>>>;

// A string, checked by concurrencyOption (cli/common.ts): a number option would turn "abc" into NaN.
const concurrency = { type: 'string', default: '4', describe: 'parallel blob downloads per registry, 1 to 64 (at most 16 in all)' } as const;
const compression = { type: 'string', choices: ['gzip', 'none'], default: 'gzip', describe: 'outer compression of the bundle' } as const;
const referrers = { type: 'boolean', default: true, describe: 'carry signatures, attestations and SBOMs (referrers API, sha256-<hex> tags, cosign .sig/.att/.sbom); --no-referrers to leave them' } as const;
const policy = { type: 'string', describe: 'signature policy file: judge every image by the signatures the bundle carries, offline (docs/policy.md)' } as const;
const savePolicy = { type: 'string', describe: 'signature policy file: refuse to write the bundle when an image fails it, judged by the signatures fetched with it (docs/policy.md)' } as const;
const have = { type: 'string', describe: 'have.json from `ferry inventory` on the receiving side: write a differential bundle without the layers it already has' } as const;
const split = { type: 'string', describe: 'write volumes FILE.001, FILE.002, ... of at most SIZE bytes each (700M, 4.7G: decimal; 4Gi: binary; at least 1M); `cat FILE.0*` is the bundle' } as const;
const allowNondistributable = { type: 'boolean', default: false, describe: 'carry non-distributable (foreign) layers instead of skipping them with a note' } as const;

/** What shapes the bundle that save and export write (the same options, in the same order). */
function withBundleOptions<T>(y: Argv<T>) {
  return y
    .option('compression', compression)
    .option('referrers', referrers)
    .option('allow-nondistributable', allowNondistributable)
    .option('have', have)
    .option('policy', savePolicy)
    .option('split', split);
}

export function saveOptions(y: Argv<GlobalArgs>) {
  return withBundleOptions(withCacheOption(withRegistryOptions(y))
    .positional('images', { type: 'string', array: true, describe: 'image references, e.g. docker.io/library/nginx:1.27' })
    .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'bundle file to write (.tar.gz, or .tar with --compression none)' })
    .option('platform', { type: 'string', array: true, default: [] as string[], describe: `os/arch[/variant] to keep (repeatable), or "all"; default ${DEFAULT_PLATFORM}` })
  ).option('concurrency', concurrency);
}

export function exportOptions(y: Argv<GlobalArgs>) {
  return withBundleOptions(withCacheOption(withRegistryOptions(y))
    .positional('manifest', { type: 'string', demandOption: true, describe: 'manifest file (YAML or JSON) listing the images' })
    .option('output', { alias: 'o', type: 'string', describe: 'bundle file (default bundles/<bundle>.tar.gz)' })
    .option('locked', { type: 'boolean', default: false, describe: 'export exactly the digests in the lock file; fail if an image is not locked' })
    .option('force', { type: 'boolean', default: false, describe: 'rewrite the bundle even when nothing changed' })
    .option('keep-going', { type: 'boolean', default: false, describe: 'bundle the images that worked when others fail (exit 3)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be exported (images, tags, digests, sizes, what the cache holds) and write nothing' })
  ).option('concurrency', concurrency);
}

export function verifyOptions(y: Argv<GlobalArgs>) {
  return y
    .positional('bundle', { type: 'string', demandOption: true, describe: 'bundle or image archive (.tar.gz or .tar); a volume NAME.NNN alone, or NAME for the whole set' })
    .option('deep', { type: 'boolean', default: false, describe: 'also decompress every layer and check its diff_id' })
    .option('policy', policy);
}

export function lsOptions(y: Argv<GlobalArgs>) {
  return y.positional('bundle', { type: 'string', demandOption: true, describe: 'bundle or image archive' });
}

export function pushOptions(y: Argv<GlobalArgs>) {
  return withCacheOption(withRegistryOptions(y))
    .positional('bundle', { type: 'string', demandOption: true, describe: 'bundle or image archive to push' })
    .option('to', { type: 'string', demandOption: true, describe: 'target registry HOST[:PORT][/PREFIX]' })
    .option('keep-registry-host', { type: 'boolean', default: false, describe: 'put the source registry host in the target path (HOST/PREFIX/docker.io/library/nginx)' })
    .option('concurrency', { ...concurrency, describe: 'parallel blob uploads, 1 to 64' })
    .option('mapping-file', { type: 'string', describe: 'where to write the source -> target@digest mapping (default: <bundle name>.mapping.json in the current directory)' })
    .option('policy', policy)
    .option('keep-going', { type: 'boolean', default: false, describe: 'with --policy: push the accepted images when others are rejected (exit 3)' })
    .option('prune', { type: 'boolean', default: false, describe: 'after the push, report tags in the repositories pushed to that the bundle does not carry' })
    .option('yes', { type: 'boolean', default: false, describe: 'with --prune: delete those tags (by digest) instead of only reporting them' });
}

export function tagOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y)
    .positional('source', { type: 'string', demandOption: true, describe: 'image in a registry, HOST/REPO:TAG or HOST/REPO@sha256:...' })
    .positional('tag', { type: 'string', demandOption: true, describe: 'the new tag, in the same repository' });
}

export function deleteOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y).positional('ref', { type: 'string', demandOption: true, describe: 'image to delete, HOST/REPO@sha256:... or HOST/REPO:TAG (resolved to its digest)' });
}

export function copyOptions(y: Argv<GlobalArgs>) {
  return withCacheOption(withRegistryOptions(y))
    .positional('source', { type: 'string', demandOption: true, describe: 'image to copy: REF or docker://REF (a registry), oci:DIR[:NAME] (an OCI layout), or a bundle file' })
    .positional('destination', { type: 'string', demandOption: true, describe: 'where to: REF or docker://REF (a registry), or oci:DIR[:NAME]' })
    .option('platform', { type: 'string', array: true, default: [] as string[], describe: `os/arch[/variant] to keep (repeatable), or "all"; default ${DEFAULT_PLATFORM}` })
    .option('referrers', referrers)
    .option('allow-nondistributable', allowNondistributable)
    .option('concurrency', { ...concurrency, describe: 'parallel blob copies, 1 to 64' });
}

export function loadOptions(y: Argv<GlobalArgs>) {
  return y
    .positional('bundle', { type: 'string', demandOption: true, describe: 'bundle or docker save archive' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to load from multi-platform images (default: the one the bundle marks for docker load)' })
    .option('force', { type: 'boolean', default: false, describe: 'load even images the engine already has' })
    .option('base', { type: 'string', array: true, describe: 'a differential bundle: a full bundle holding the layers it builds on (repeatable)' })
    .option('policy', policy);
}

export function importOptions(y: Argv<GlobalArgs>) {
  return withCacheOption(withRegistryOptions(y))
    .positional('sources', { type: 'string', array: true, demandOption: true, describe: 'an import config file (import.yaml, see docs/import.md), or bundles to import' })
    .option('to', { type: 'string', describe: 'without a config file: the target registry HOST[:PORT][/PREFIX], as `ferry push --to`' })
    .option('keep-registry-host', { type: 'boolean', default: false, describe: 'without a config file: put the source registry host in the target path, as `ferry push`' })
    .option('docker', { type: 'string', describe: 'without a config file: load into this Docker engine (unix:///path/to/docker.sock or tcp://HOST:PORT; "" for DOCKER_HOST) instead of pushing' })
    .option('done', { type: 'string', describe: 'without a config file: move imported bundles (and their checksum files) into this directory' })
    .option('failed', { type: 'string', describe: 'without a config file: move rejected bundles into this directory, each with <name>.reason.txt' })
    .option('journal', { type: 'string', describe: 'without a config file: the journal of imported bundles (default <--done>/imports.jsonl, or imports.jsonl in the current directory)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be imported; import, move and write nothing' })
    .option('concurrency', { ...concurrency, describe: 'parallel blob uploads, 1 to 64' });
}

export function inventoryOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y)
    .positional('bundles', { type: 'string', array: true, describe: 'bundles already imported on this side' })
    .option('registry', { type: 'string', describe: 'inventory a registry instead: HOST[:PORT][/PREFIX], as `push --to` names it' })
    .option('output', { alias: 'o', type: 'string', default: 'have.json', describe: 'where to write the inventory' });
}

export function loginOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y)
    .positional('host', { type: 'string', demandOption: true, describe: 'registry HOST[:PORT]' })
    .option('username', { alias: 'u', type: 'string', demandOption: true, describe: 'user name' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from standard input (default: prompt on the terminal)' });
}

export function logoutOptions(y: Argv<GlobalArgs>) {
  return y.positional('host', { type: 'string', demandOption: true, describe: 'registry HOST[:PORT]' });
}

export function versionOptions(y: Argv<GlobalArgs>) {
  return y;
}

export function cacheLsOptions(y: Argv<GlobalArgs>) {
  return withCacheOption(y);
}

export function cachePruneOptions(y: Argv<GlobalArgs>) {
  return withCacheOption(y)
    .option('older-than', { type: 'string', describe: 'only blobs unused for this long (e.g. 30d)' })
    .option('lock', { type: 'string', array: true, default: [] as string[], describe: 'keep what this lock file references (repeatable)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be removed, remove nothing' });
}

export function inspectOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y)
    .positional('image', { type: 'string', demandOption: true, describe: 'image reference (REF or docker://REF), or a bundle file BUNDLE[#NAME]' })
    .option('raw', { type: 'boolean', default: false, describe: 'print the manifest (or index) bytes exactly as stored' })
    .option('config', { type: 'boolean', default: false, describe: 'print the config blob exactly as stored' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] of a multi-platform image to show (default linux/amd64, else the first)' })
    .option('format', { alias: 'f', type: 'string', describe: "Go template subset, e.g. '{{.Os}}', '{{json .Config.Labels}}' (docs/cli.md)" });
}

export function tagsOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y).positional('repository', { type: 'string', demandOption: true, describe: 'repository, e.g. docker.io/library/nginx or 127.0.0.1:5000/team/app' });
}

export function catalogOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y).positional('registry', { type: 'string', demandOption: true, describe: 'registry HOST[:PORT]' });
}

export function searchOptions(y: Argv<GlobalArgs>) {
  return withRegistryOptions(y)
    .positional('term', { type: 'string', demandOption: true, describe: 'search term; HOST/TERM searches the catalog of another registry' })
    .option('limit', { type: 'string', default: '25', describe: 'at most this many results, 1 to 100' })
    .option('filter', { type: 'string', array: true, default: [] as string[], describe: 'stars=N or is-official=true|false (repeatable)' })
    .option('trunc', { type: 'boolean', default: true, describe: 'shorten descriptions to 45 characters; --no-trunc prints them whole' });
}

export function serveOptions(y: Argv<GlobalArgs>) {
  return withCacheOption(y)
    .positional('bundles', { type: 'string', array: true, demandOption: true, describe: 'bundles or image archives to serve as one registry' })
    .option('listen', { type: 'string', default: '127.0.0.1:5000', describe: 'HOST:PORT to listen on (0.0.0.0:5000 for every interface; port 0: any free port)' })
    .option('prefix', { type: 'string', describe: 'serve the repositories below this path (P/library/nginx)' })
    .option('tls-cert', { type: 'string', describe: 'PEM certificate (chain) file: serve HTTPS (with --tls-key)' })
    .option('tls-key', { type: 'string', describe: 'PEM private key file of --tls-cert' })
    .option('htpasswd', { type: 'string', describe: 'require HTTP Basic authentication against this htpasswd file (bcrypt `htpasswd -B` or {SHA} entries)' })
    .option('print-mirror-config', { type: 'string', choices: ['containerd', 'cri-o', 'k3s'], describe: 'print the mirror configuration for the bundles\' registries (hosts.toml, registries.conf, registries.yaml) and exit' });
}

export type SaveArgs = ArgsOf<typeof saveOptions>;
export type ExportArgs = ArgsOf<typeof exportOptions>;
export type VerifyArgs = ArgsOf<typeof verifyOptions>;
export type LsArgs = ArgsOf<typeof lsOptions>;
export type PushArgs = ArgsOf<typeof pushOptions>;
export type CopyArgs = ArgsOf<typeof copyOptions>;
export type LoadArgs = ArgsOf<typeof loadOptions>;
export type ImportArgs = ArgsOf<typeof importOptions>;
export type LoginArgs = ArgsOf<typeof loginOptions>;
export type InventoryArgs = ArgsOf<typeof inventoryOptions>;
export type LogoutArgs = ArgsOf<typeof logoutOptions>;
export type VersionArgs = ArgsOf<typeof versionOptions>;
export type CacheLsArgs = ArgsOf<typeof cacheLsOptions>;
export type CachePruneArgs = ArgsOf<typeof cachePruneOptions>;
export type InspectArgs = ArgsOf<typeof inspectOptions>;
export type TagsArgs = ArgsOf<typeof tagsOptions>;
export type CatalogArgs = ArgsOf<typeof catalogOptions>;
export type SearchArgs = ArgsOf<typeof searchOptions>;
export type TagArgs = ArgsOf<typeof tagOptions>;
export type DeleteArgs = ArgsOf<typeof deleteOptions>;
export type ServeArgs = ArgsOf<typeof serveOptions>;
