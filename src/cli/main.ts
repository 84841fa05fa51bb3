/**
 * The command line: argv -> command -> exit code. Errors become one paragraph on stderr
 * ("error: ...", "hint: ...") and an exit code chosen by error code (docs/cli.md); a stack
 * trace only with --debug.
 */
import yargs, { type Argv } from 'yargs';
import { EXIT, FerryError, UsageError, describe } from '../errors.js';
import { reportState } from './report-state.js';
import { installSignalHandlers, runCleanups, setInterruptReporter } from '../process/interrupt.js';
import { tolerateClosedPipe } from './closed-pipe.js';
import { errorJson } from './report.js';
import {
  cacheLsOptions,
  cachePruneOptions,
  copyOptions,
  deleteOptions,
  exportOptions,
  inspectOptions,
  tagsOptions,
  catalogOptions,
  searchOptions,
  importOptions,
  inventoryOptions,
  loadOptions,
  loginOptions,
  logoutOptions,
  lsOptions,
  pushOptions,
  saveOptions,
  serveOptions,
  tagOptions,
  verifyOptions,
  versionOptions,
  type GlobalArgs,
} from './commands.js';

type Handler = (args: never) => Promise<number>;

/** A command's implementation, imported only when it runs (so --help stays fast). */
const lazy =
  <M>(load: () => Promise<M>, pick: (m: M) => Handler): (() => Promise<Handler>) =>
  async () =>
    pick(await load());

/** Renders an error for people: message, hint, and with --debug the cause chain. */
export function renderError(err: unknown, debug: boolean): string {
  const lines: string[] = [];
  if (err instanceof FerryError) {
    lines.push(`error: ${err.message}`);
    if (err.hint) lines.push(`  hint: ${err.hint}`);
  } else {
    lines.push(`error: ${describe(err)}`);
    lines.push('  hint: this looks like a bug in ferry; run again with --debug and report the output');
  }
  if (debug) {
    let c: unknown = err;
    while (c) {
      lines.push(`  ${c instanceof Error ? (c.stack ?? c.message) : String(c)}`.replace(/\n/g, '\n  '));
      c = c instanceof Error ? c.cause : undefined;
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The --json document for a run that ended without the command's own report. */
function failureJson(argv: readonly string[], status: string, exitCode: number, error: { code: string; message: string; hint?: string }): string {
  return `${JSON.stringify({ command: argv.find((x) => !x.startsWith('-')) ?? null, status, exitCode, error }, null, 2)}\n`;
}

/**
 * Runs the CLI as a process: sets `process.exitCode` from `main`, installs the signal handlers
 * (src/process/interrupt.ts), and guards the two ways a process can end without `main`
 * deciding: an uncaught exception, and an event loop that drains while `main` still waits (a
 * stream that never settles). Both are exit 1 with a message, never exit 0.
 */
export function runCli(argv: string[]): void {
  const json = argv.includes('--json');
  let settled = false;
  process.exitCode = EXIT.failure; // until main says otherwise
  installSignalHandlers();
  setInterruptReporter((line, exitCode) => {
    // Bars hide the cursor; give it back, and end the bar line before ours.
    if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');
    process.stderr.write(`${line}\n`);
    if (json && !reportState.printed) process.stdout.write(failureJson(argv, 'interrupted', exitCode, { code: 'INTERRUPTED', message: line }));
  });
  const die = (err: unknown): void => {
    runCleanups();
    process.stderr.write(renderError(err, argv.includes('--debug')));
    if (json && !reportState.printed) process.stdout.write(failureJson(argv, 'failed', EXIT.failure, { code: 'INTERNAL', message: describe(err) }));
    process.exit(EXIT.failure);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  process.once('beforeExit', () => {
    if (settled) return;
    die(new Error('ferry stopped before its work was finished (an operation never completed)'));
  });
  main(argv).then(
    (code) => {
      settled = true;
      // A failed command has cleaned up after itself; this catches what a bug left behind.
      if (code !== EXIT.ok) runCleanups();
      process.exitCode = code;
    },
    (err: unknown) => {
      settled = true;
      die(err);
    },
  );
}

export async function main(argv: string[]): Promise<number> {
  tolerateClosedPipe(process.stdout);
  tolerateClosedPipe(process.stderr);
  // --version anywhere (as yargs' own would) answers before any command's validation runs.
  const own = argv.indexOf('--') < 0 ? argv : argv.slice(0, argv.indexOf('--'));
  if (own.includes('--version')) return (await import('./version.js')).runVersion({ json: own.includes('--json') });
  let code: number = EXIT.ok;
  let failure: unknown;
  const run = (load: () => Promise<Handler>) => async (args: unknown): Promise<void> => {
    const h = (await load()) as (a: unknown) => Promise<number>;
    code = await h(args);
  };
  const parser: Argv<GlobalArgs> = yargs(argv)
    .scriptName('ferry')
    .usage('ferry carries container images across an air gap.\n\nUsage: ferry <command> [options]')
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but warnings and errors' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON report on stdout (progress on stderr)' })
    .option('debug', { type: 'boolean', default: false, describe: 'print error causes and stack traces' })
    .command('save <images..>', 'pull images from registries into a bundle (no Docker daemon)', saveOptions, run(lazy(() => import('./save.js'), (m) => m.runSave)))
    .command('export <manifest>', 'export the images of a manifest file into a bundle, with a lock file and cache', exportOptions, run(lazy(() => import('./export.js'), (m) => m.runExport)))
    .command('verify <bundle>', 'check a bundle offline: digests, sizes, references, metadata', verifyOptions, run(lazy(() => import('./verify.js'), (m) => m.runVerify)))
    .command('ls <bundle>', 'list the images in a bundle', lsOptions, run(lazy(() => import('./ls.js'), (m) => m.runLs)))
    .command('push <bundle>', 'push the images of a bundle into a registry, digests unchanged', pushOptions, run(lazy(() => import('./push.js'), (m) => m.runPush)))
    .command('copy <source> <destination>', 'copy images between registries, OCI layouts and bundles, digests unchanged', copyOptions, run(lazy(() => import('./copy.js'), (m) => m.runCopy)))
    .command('tag <source> <tag>', 'tag an image in a registry again, without pulling it (same digest)', tagOptions, run(lazy(() => import('./tag.js'), (m) => m.runTag)))
    .command('delete <ref>', 'delete an image from a registry, by digest (where the registry allows deletes)', deleteOptions, run(lazy(() => import('./delete.js'), (m) => m.runDelete)))
    .command('load <bundle>', 'load a bundle into a Docker engine (Engine API over DOCKER_HOST)', loadOptions, run(lazy(() => import('./load.js'), (m) => m.runLoad)))
    .command('inspect <image>', 'show what an image is (platforms, config, layers, referrers) without pulling layers', inspectOptions, run(lazy(() => import('./inspect.js'), (m) => m.runInspect)))
    .command('tags <repository>', 'list every tag of a repository', tagsOptions, run(lazy(() => import('./tags.js'), (m) => m.runTags)))
    .command('catalog <registry>', "list a registry's repositories (_catalog)", catalogOptions, run(lazy(() => import('./catalog.js'), (m) => m.runCatalog)))
    .command('search <term>', 'search Docker Hub (or filter another registry\'s catalog) as docker search does', searchOptions, run(lazy(() => import('./search.js'), (m) => m.runSearch)))
    .command('inventory [bundles..]', 'write have.json: the blobs this side holds (a registry, or bundles), for differential bundles', inventoryOptions, run(lazy(() => import('./inventory.js'), (m) => m.runInventory)))
    .command('import <sources..>', 'import the bundles of a drop directory (or the bundles named) into a registry or a Docker engine, once each', importOptions, run(lazy(() => import('./import.js'), (m) => m.runImport)))
    .command('serve <bundles..>', 'serve bundles as a read-only registry (OCI distribution API), straight to docker, podman, containerd and k3s', serveOptions, run(lazy(() => import('./serve.js'), (m) => m.runServe)))
    .command('login <host>', 'store registry credentials in the Docker config', loginOptions, run(lazy(() => import('./login.js'), (m) => m.runLogin)))
    .command('logout <host>', 'remove registry credentials from the Docker config', logoutOptions, run(lazy(() => import('./login.js'), (m) => m.runLogout)))
    .command('version', "print ferry's version, commit, the Node.js inside, and whether it is a release", versionOptions, run(lazy(() => import('./version.js'), (m) => m.runVersion)))
    .command('cache', 'inspect and prune the blob cache', (y) =>
      y
        .command('ls', 'list cached blobs and their total size', cacheLsOptions, run(lazy(() => import('./cache.js'), (m) => m.runCacheLs)))
        .command('prune', 'remove cached blobs no lock file references, or unused for a while', cachePruneOptions, run(lazy(() => import('./cache.js'), (m) => m.runCachePrune)))
        .demandCommand(1, 'name a cache command: ls or prune'),
    )
    .demandCommand(1, 'name a command; see ferry --help')
    .strict()
    .version(false)
    .option('version', { type: 'boolean', describe: 'the same as `ferry version`' })
    .help()
    .alias('h', 'help')
    // No wrapping: yargs' ESM build lays help out with cliui's ESM fallback, which cuts words at
    // the column edge ("(re" / "peatable)"); whole lines read better, piped or in a terminal.
    .wrap(null)
    .fail((msg, err) => {
      // Throw, not record: yargs would otherwise go on to run the command with invalid arguments.
      throw err ?? new UsageError(msg ?? 'invalid arguments', 'see ferry --help');
    });
  const debug = argv.includes('--debug');
  try {
    await parser.parseAsync();
  } catch (err) {
    failure ??= err;
  }
  if (failure) {
    if (failure instanceof Error && !(failure instanceof FerryError) && (failure as { name?: string }).name === 'YError') {
      failure = new UsageError(failure.message, 'see ferry --help');
    }
    process.stderr.write(renderError(failure, debug));
    const exitCode = failure instanceof FerryError ? failure.exitCode : EXIT.failure;
    // With --json a script always gets a document on stdout, also when the run failed early.
    if (argv.includes('--json') && !reportState.printed) {
      const error = failure instanceof FerryError ? errorJson(failure) : { code: 'INTERNAL', message: describe(failure) };
      process.stdout.write(failureJson(argv, 'failed', exitCode, error));
    }
    return exitCode;
  }
  return code;
}
