/** `ferry version` and `ferry --version`: ferry's version, commit, the Node.js inside, release or not. */
import { buildInfo } from '../version.js';
import type { VersionArgs } from './commands.js';
import { reportState } from './report-state.js';

const BUILDS = {
  executable: 'release, single executable (Node.js embedded)',
  bundle: 'release, single-file bundle',
  checkout: 'not a release (dist/ of a checkout)',
} as const;

export async function runVersion(a: Pick<VersionArgs, 'json'>): Promise<number> {
  const info = buildInfo();
  if (a.json) {
    reportState.printed = true;
    process.stdout.write(`${JSON.stringify({ command: 'version', status: 'ok', exitCode: 0, ...info }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(
    [`ferry ${info.version}`, `commit:   ${info.commit ?? 'unknown'}`, `node:     ${info.node} (${info.platform})`, `build:    ${BUILDS[info.build]}`, ''].join('\n'),
  );
  return 0;
}
