/**
 * The repositories a server answers for, built from the content's names: each image is served
 * under its repository path without the registry host (`docker.io/library/nginx:1.27` ->
 * `library/nginx`), below `--prefix` when given (`P/library/nginx`).
 *
 * Conflicts are settled by one rule, later bundles win, each with a start-up warning:
 * - the same tag of the same upstream repository pointing at two digests: the bundle named
 *   last gives the tag (as loading the bundles one after the other would);
 * - the same repository path from two upstream registries (`docker.io/lab/app` and
 *   `ghcr.io/lab/app`): a request without `?ns=` gets the one of the bundle named last; a
 *   request with `?ns=HOST` (what containerd sends to a mirror) always gets that registry's.
 */
import type { ServedName } from './content.js';

export interface Repository {
  /** The path clients use: `P/library/nginx`. */
  path: string;
  /** The upstream registry: `docker.io`. */
  registry: string;
  /** tag -> manifest digest. */
  tags: Map<string, { digest: string; source: string }>;
}

/** Hosts that mean Docker Hub in an `ns` parameter. */
const HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The registry host an `ns` value names, normalised (Docker Hub's aliases are docker.io). */
export function normaliseNs(ns: string): string {
  const h = ns.toLowerCase();
  return HUB.has(h) ? 'docker.io' : h;
}

export class Repositories {
  /** served path -> upstream registry -> repository; the last registry set wins without ns. */
  private readonly byPath = new Map<string, Map<string, Repository>>();
  private readonly preferred = new Map<string, string>();
  /** Warnings found while building (conflicts), for the start-up output. */
  readonly warnings: string[] = [];

  constructor(names: readonly ServedName[], prefix: string | undefined) {
    const p = prefix?.replace(/^\/+|\/+$/g, '');
    for (const n of names) {
      if (n.registry === 'unnamed') continue;
      const path = p ? `${p}/${n.repository}` : n.repository;
      let regs = this.byPath.get(path);
      if (!regs) this.byPath.set(path, (regs = new Map()));
      let repo = regs.get(n.registry);
      if (!repo) regs.set(n.registry, (repo = { path, registry: n.registry, tags: new Map() }));
      const before = this.preferred.get(path);
      if (before !== undefined && before !== n.registry) {
        this.warnings.push(`${path} is in the bundles from ${before} and from ${n.registry}: requests without ?ns= get ${n.registry}'s (${n.source}, named later)`);
      }
      this.preferred.set(path, n.registry);
      if (!n.tag) continue;
      const had = repo.tags.get(n.tag);
      if (had && had.digest !== n.digest) {
        this.warnings.push(`${n.registry}/${n.repository}:${n.tag} is ${had.digest} in ${had.source} and ${n.digest} in ${n.source}: serving ${n.source}'s (named later)`);
      }
      repo.tags.set(n.tag, { digest: n.digest, source: n.source });
    }
  }

  /** The repository a request names, or undefined. With `ns`, only that upstream registry's. */
  find(path: string, ns: string | undefined): Repository | undefined {
    const regs = this.byPath.get(path);
    if (!regs) return undefined;
    if (ns !== undefined && ns !== '') return regs.get(normaliseNs(ns));
    return regs.get(this.preferred.get(path)!);
  }

  /** Every served path, sorted. */
  paths(): string[] {
    return [...this.byPath.keys()].sort();
  }

  /** The distinct upstream registries, in first-seen order. */
  registries(): string[] {
    const out = new Set<string>();
    for (const regs of this.byPath.values()) for (const r of regs.keys()) out.add(r);
    return [...out];
  }

  /** How many (registry, repository, tag) names are served. */
  get imageCount(): number {
    let n = 0;
    for (const regs of this.byPath.values()) for (const r of regs.values()) n += r.tags.size;
    return n;
  }
}
