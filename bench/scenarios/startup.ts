/** startup: `--version` of the release executable, of the release .mjs and of bin/ferry (dist/). */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from '../../test/e2e/helpers/processes.js';
import { log, since } from '../log.js';
import { ROOT } from '../paths.js';
import { defineScenario, pick, type Variant } from '../scenario.js';

/** Calls of `--version` per timed run (one call is ~0.1 s: too short to time alone). */
const CALLS = 10;

interface Data {
  bytes: number;
  what: string;
  exe: string;
  mjs: string;
  ferry: string;
}

/** The release artifacts (scripts/release.mjs, linux-x64 and .mjs) built into `dir`. */
async function buildRelease(dir: string): Promise<{ exe: string; mjs: string }> {
  const t0 = Date.now();
  await runOk(process.execPath, [join(ROOT, 'scripts', 'release.mjs'), '--out', dir, '--targets', 'linux-x64,mjs'], { timeoutMs: 600_000 });
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  log(`bench: built the release into ${dir} in ${since(t0)} s`);
  return { exe: join(dir, `ferry-${version}-linux-x64`), mjs: join(dir, `ferry-${version}.mjs`) };
}

/** CALLS runs of `argv --version`, the first checked to name ferry. */
function variant(name: string, note: string, argv: (d: Data) => string[]): Variant<Data> {
  return {
    name,
    note: `${note}; ${CALLS} calls per run`,
    steps: (data, dir) => {
      const [cmd, ...args] = argv(data);
      return Array.from({ length: CALLS }, (_, i) => ({ cmd: cmd!, args: [...args, '--version'], stdout: join(dir, `out-${i}.txt`) }));
    },
    async inspect(dir) {
      const out = await readFile(join(dir, 'out-0.txt'), 'utf8');
      if (!out.startsWith('ferry ')) throw new Error(`${name}: unexpected output ${JSON.stringify(out.slice(0, 200))}`);
      return {};
    },
  };
}

export default defineScenario<Data>({
  name: 'startup',
  title: `answer --version (${CALLS} calls per run): the release executable, the release .mjs, bin/ferry`,
  baseline: 'bin/ferry',
  async setup(ctx) {
    const release = await buildRelease(join(ctx.tmp, 'release'));
    return { ...release, ferry: ctx.ferry, bytes: 0, what: 'no image (process start only)' };
  },
  variants: [
    variant('executable', 'ferry-<version>-linux-x64 (Node embedded, one bundle)', ({ exe }) => [exe]),
    variant('node .mjs', 'node ferry-<version>.mjs (one bundle)', ({ mjs }) => [process.execPath, mjs]),
    variant('bin/ferry', 'node bin/ferry (dist/, modules resolved from node_modules)', ({ ferry }) => [process.execPath, ferry]),
  ],
  targets(m) {
    const per = (n: string): number => pick(m, n).seconds / CALLS;
    return [
      { what: 'the release executable answers --version in under 0.15 s', value: `${per('executable').toFixed(3)} s per call`, ok: per('executable') < 0.15 },
      { what: 'node ferry.mjs --version', value: `${per('node .mjs').toFixed(3)} s per call`, info: true },
      { what: 'bin/ferry --version', value: `${per('bin/ferry').toFixed(3)} s per call`, info: true },
    ];
  },
});
