/** The tools a run needs, their versions, and which ferry build is under test. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { die, indentTail, log } from './log.js';
import { ROOT } from './paths.js';

/** Debian package of each tool (for the install hint). */
const PACKAGES: Record<string, string> = {
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  gzip: 'gzip',
  curl: 'curl',
  tar: 'tar',
  sync: 'coreutils',
  '/usr/bin/time': 'time',
  dockerd: 'docker.io',
  docker: 'docker.io',
  containerd: 'containerd',
  ctr: 'containerd',
  umount: 'mount',
  openssl: 'openssl',
};

export const COMMON_TOOLS = ['docker-registry', 'skopeo', 'gzip', 'curl', 'tar', 'sync', '/usr/bin/time'];

/**
 * Checks that every tool in `tools` runs and that `ferry` answers --version; exits (BenchExit)
 * with one message naming the missing Debian packages. Returns the first line of each version.
 */
export function checkTools(tools: readonly string[], ferry: string): Record<string, string> {
  const missing: string[] = [];
  const versions: Record<string, string> = {};
  for (const t of new Set(tools)) {
    const r = spawnSync(t, t === 'openssl' ? ['version'] : ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) missing.push(t);
    else versions[t] = (r.stdout || r.stderr).split('\n')[0]!.trim();
  }
  if (missing.length) die(`missing tools: ${missing.join(', ')}\n  install them with: apt-get install -y ${[...new Set(missing.map((t) => PACKAGES[t] ?? t))].join(' ')}`);
  if (ferry === join(ROOT, 'bin', 'ferry')) {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) die(`ferry is not built (no dist/cli/main.js)\n  build it with: npm run build`);
    const newest = newestMtime(join(ROOT, 'src'));
    const built = statSync(join(ROOT, 'dist', 'cli', 'main.js')).mtimeMs;
    if (newest > built + 1000) log(`bench: warning: src/ has files newer than dist/; results are for the last build (npm run build)`);
    // bin/ferry runs the one-file CLI (dist/cli.cjs) unless tsc wrote dist/ after it.
    const bundle = statSync(join(ROOT, 'dist', 'cli.cjs'), { throwIfNoEntry: false });
    if (!bundle || bundle.mtimeMs < built) log(`bench: warning: dist/cli.cjs is missing or older than dist/: bin/ferry runs dist/ as modules, slower to start (npm run build)`);
  } else if (!existsSync(ferry)) die(`--ferry ${ferry}: no such file`);
  const fv = spawnSync(process.execPath, [ferry, '--version'], { encoding: 'utf8' });
  if (fv.status !== 0) die(`ferry --version failed:\n${indentTail(fv.stderr)}`);
  versions.ferry = fv.stdout.split('\n')[0]!.trim();
  versions.ferryPath = ferry;
  versions.node = process.version;
  return versions;
}

/** The newest mtime of the `ext` files (not tests) under `dir`. */
function newestMtime(dir: string, ext = '.ts'): number {
  let n = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n = Math.max(n, newestMtime(p, ext));
    else if (e.name.endsWith(ext) && !e.name.endsWith(`.test${ext}`)) n = Math.max(n, statSync(p).mtimeMs);
  }
  return n;
}

export interface FerryBuild {
  root: string;
  snapshotOf?: string;
  gitHead: string | null;
  srcDirty: boolean | null;
  distBuilt: string | null;
}

/**
 * Identifies the ferry build under test (the checkout `root`, where bin/ferry is): git HEAD (and
 * whether src/ is dirty) when `root` is a git work tree's top, and dist/'s newest file.
 */
export function ferryBuild(root = ROOT): FerryBuild {
  const git = (args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  const top = git(['rev-parse', '--show-toplevel']);
  const isRepo = top.status === 0 && resolve(top.stdout.trim()) === resolve(root);
  const head = isRepo ? git(['rev-parse', '--short', 'HEAD']) : null;
  const dirty = isRepo ? git(['status', '--porcelain', '--', 'src']) : null;
  const distMtime = newestMtime(join(root, 'dist'), '.js');
  // A copy made with `git archive` can say which commit it is in a SNAPSHOT_OF file.
  const snapshot = join(root, 'SNAPSHOT_OF');
  const snapshotOf = existsSync(snapshot) ? readFileSync(snapshot, 'utf8').trim() : undefined;
  return {
    root,
    ...(snapshotOf ? { snapshotOf } : {}),
    gitHead: head?.status === 0 ? head.stdout.trim() : null,
    srcDirty: dirty?.status === 0 ? dirty.stdout.trim() !== '' : null,
    distBuilt: distMtime ? new Date(distMtime).toISOString() : null,
  };
}
