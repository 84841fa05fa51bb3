/**
 * Runs once before the e2e files: builds dist/ with `tsc -p tsconfig.build.json`, because
 * bin/ferry runs dist/ and a stale build would test yesterday's code. Throws (failing the
 * run) when the build fails. Set FERRY_E2E_SKIP_BUILD=1 to test dist/ as it is.
 */
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './helpers/ferry.js';

export default function setup(): void {
  if (process.env.FERRY_E2E_SKIP_BUILD) return;
  const tsc = `${REPO_ROOT}/node_modules/typescript/bin/tsc`;
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`building dist/ for e2e failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  }
}
