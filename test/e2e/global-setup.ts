/**
 * Runs once before the e2e files: builds dist/ as `npm run build` does (tsc -p
 * tsconfig.build.json, then the one-file CLI dist/cli.cjs that bin/ferry runs, by
 * scripts/cli-bundle.mjs), because a stale build would test yesterday's code. Throws (failing
 * the run) when the build fails. Set FERRY_E2E_SKIP_BUILD=1 to test dist/ as it is.
 */
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './helpers/ferry.js';

export default function setup(): void {
  if (process.env.FERRY_E2E_SKIP_BUILD) return;
  const steps = [
    [`${REPO_ROOT}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'],
    [`${REPO_ROOT}/scripts/cli-bundle.mjs`],
  ];
  for (const args of steps) {
    const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8' });
    if (r.status !== 0) {
      throw new Error(`building dist/ for e2e failed (${args.join(' ')}: exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
    }
  }
}
