/**
 * ferry's version and what it was built from. A release (scripts/release.mjs) bundles ferry
 * with esbuild and defines `FERRY_BUILD` at bundle time, so a release reads nothing from disk;
 * the tsc build (dist/) reads package.json one directory above src/ and dist/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Replaced by esbuild's `define` in a release bundle; undeclared (so `typeof` is 'undefined') in dist/. */
declare const FERRY_BUILD: { version: string; commit: string | null; kind: 'executable' | 'bundle' } | undefined;

const RELEASE = typeof FERRY_BUILD === 'undefined' ? undefined : FERRY_BUILD;

export const VERSION: string = RELEASE?.version ?? (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
export const TOOL = `ferry ${VERSION}`;

/** What `ferry version` reports. */
export interface BuildInfo {
  version: string;
  /** The git commit the build came from ("<sha>-dirty" with uncommitted changes), or null when unknown. */
  commit: string | null;
  /** The Node.js running ferry (inside the executable for a single-executable release). */
  node: string;
  platform: string;
  /** True for the release artifacts of `npm run release`. */
  release: boolean;
  /** 'executable' (Node embedded), 'bundle' (one .mjs file), or 'checkout' (dist/ of a git clone or npm package). */
  build: 'executable' | 'bundle' | 'checkout';
}

/**
 * Returns ferry's build identity. A release carries its commit from build time; a checkout asks
 * git about the directory dist/ sits in (null when that is not a git work tree or git is missing).
 */
export function buildInfo(): BuildInfo {
  const commit = RELEASE ? RELEASE.commit : checkoutCommit(fileURLToPath(new URL('..', import.meta.url)));
  const where = { node: process.version, platform: `${process.platform}-${process.arch}` };
  return RELEASE ? { version: VERSION, commit, ...where, release: true, build: RELEASE.kind } : { version: VERSION, commit, ...where, release: false, build: 'checkout' };
}

function checkoutCommit(root: string): string | null {
  if (!existsSync(`${root}/.git`)) return null;
  const git = (...args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: 5000 });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0 || !head.stdout.trim()) return null;
  const dirty = git('status', '--porcelain', '--untracked-files=no');
  return `${head.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() ? '-dirty' : ''}`;
}
