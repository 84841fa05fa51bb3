#!/usr/bin/env node
// ferry's CLI as one esbuild bundle: what `npm run build` writes as dist/cli.cjs (run by
// bin/ferry through src/launch/run-bundle.ts, with a V8 code cache) and what
// scripts/release.mjs writes as the release .mjs and the single executable's main script.
//
//   node scripts/cli-bundle.mjs            # dist/cli.cjs (after tsc has written dist/)
//
// One file with every dependency inside (undici and its WebAssembly HTTP parser, yargs and its
// locale files, zod, yaml, tar-stream): Node resolves, reads and compiles one module instead of
// several hundred, which is most of a short command's run time (docs/cli.md, "Start-up").

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * yargs reads its messages through y18n from locale files beside its own module. This plugin
 * replaces y18n's file system shim with the locale files themselves, embedded, so yargs speaks
 * the user's language exactly as from node_modules, with no file to find at run time.
 */
const embedYargsLocales = {
  name: 'embed-yargs-locales',
  setup(b) {
    b.onLoad({ filter: /[\\/]y18n[\\/]build[\\/]lib[\\/]platform-shims[\\/]node\.js$/ }, () => {
      const dir = join(ROOT, 'node_modules', 'yargs', 'locales');
      const locales = Object.fromEntries(
        readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8'))]),
      );
      const contents = `import { format } from 'node:util';
import { basename, resolve } from 'node:path';
const LOCALES = ${JSON.stringify(locales)};
const has = (file) => Object.prototype.hasOwnProperty.call(LOCALES, basename(file));
export default {
  fs: {
    readFileSync(file) {
      if (has(file)) return JSON.stringify(LOCALES[basename(file)]);
      throw Object.assign(new Error('ENOENT: no such file, open ' + file), { code: 'ENOENT' });
    },
    writeFile(_file, _data, _enc, cb) { cb(null); },
  },
  format,
  resolve,
  exists: has,
};
`;
      return { contents, loader: 'js' };
    });
  },
};

/**
 * Bundles src/cli/main.ts into `outfile`.
 * - format 'esm' (the release .mjs) or 'cjs' (the executable's main, which Node 20 runs only as
 *   CommonJS, and dist/cli.cjs, which bin/ferry compiles with a code cache: vm.Script takes
 *   scripts, not modules);
 * - `run`: the bundle runs the CLI on process.argv itself (the release forms); otherwise it
 *   exports `runCli` (dist/cli.cjs, called by the launcher);
 * - `build`: the release's version and commit, defined at bundle time (src/version.ts); none for
 *   dist/cli.cjs, which reads package.json and git like the rest of dist/.
 */
export async function bundleCli({ format, outfile, run, build: define }) {
  const esm = format === 'esm';
  const entry = run ? "import { runCli } from './src/cli/main.ts';\nrunCli(process.argv.slice(2));\n" : "export { runCli } from './src/cli/main.ts';\n";
  const r = await build({
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'ferry-cli-entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    target: 'node20.18',
    format,
    outfile,
    define: { ...(define ? { FERRY_BUILD: JSON.stringify(define) } : {}), ...(esm ? {} : { 'import.meta.url': '__ferry_import_meta_url' }) },
    banner: {
      js: esm
        ? // Bundled CommonJS (undici, yargs' parser) calls require() for node: builtins.
          "#!/usr/bin/env node\nimport { createRequire as __ferryCreateRequire } from 'node:module';\nconst require = __ferryCreateRequire(import.meta.url);"
        : "const __ferry_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
    },
    plugins: [embedYargsLocales],
    legalComments: 'eof',
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    logLevel: 'warning',
    metafile: true,
  });
  const foreign = Object.keys(r.metafile.inputs).filter((f) => !f.startsWith('src/') && !f.startsWith('node_modules/') && f !== 'ferry-cli-entry.ts' && !f.startsWith('<define:'));
  if (foreign.length) throw new Error(`unexpected bundle inputs: ${foreign.join(', ')}`);
  // Everything is inside: a dynamic import() left in a script run by vm.Script would fail.
  const text = readFileSync(outfile, 'utf8');
  if (!esm && /\bimport\(/.test(text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, ''))) throw new Error(`${outfile}: a dynamic import() is left in the bundle`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = join(ROOT, 'dist', 'cli.cjs');
  bundleCli({ format: 'cjs', outfile: out, run: false })
    .then(() => rmSync(join(ROOT, 'dist', 'code-cache'), { recursive: true, force: true }))
    .catch((err) => {
      process.stderr.write(`cli-bundle: error: ${err?.message ?? err}\n`);
      process.exit(1);
    });
}
