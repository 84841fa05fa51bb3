/**
 * The command line: argv -> command -> exit code. Errors become one paragraph on stderr
 * ("error: ...", "hint: ...") and an exit code chosen by error code (docs/cli.md); a stack
 * trace only with --debug.
 */
import yargs, { type Argv } from 'yargs';
import { EXIT, FerryError, UsageError, describe } from '../errors.js';
import { VERSION } from '../version.js';
import type { GlobalArgs } from './common.js';
import { cacheCommand } from './cache.js';
import { exportCommand, runExport } from './export.js';
import { loadCommand, runLoad } from './load.js';
import { loginCommand, logoutCommand, runLogin, runLogout } from './login.js';
import { lsCommand, runLs } from './ls.js';
import { pushCommand, runPush } from './push.js';
import { runSave, saveCommand } from './save.js';
import { runVerify, verifyCommand } from './verify.js';

type Handler = (args: never) => Promise<number>;

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

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  let failure: unknown;
  const run = (h: Handler) => async (args: unknown): Promise<void> => {
    code = await (h as (a: unknown) => Promise<number>)(args);
  };
  const parser: Argv<GlobalArgs> = yargs(argv)
    .scriptName('ferry')
    .usage('ferry carries container images across an air gap.\n\nUsage: ferry <command> [options]')
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but warnings and errors' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON report on stdout (progress on stderr)' })
    .option('debug', { type: 'boolean', default: false, describe: 'print error causes and stack traces' })
    .command('save <images..>', 'pull images from registries into a bundle (no Docker daemon)', (y) => saveCommand(y), run(runSave as Handler))
    .command('export <manifest>', 'export the images of a manifest file into a bundle, with a lock file and cache', (y) => exportCommand(y), run(runExport as Handler))
    .command('verify <bundle>', 'check a bundle offline: digests, sizes, references, metadata', (y) => verifyCommand(y), run(runVerify as Handler))
    .command('ls <bundle>', 'list the images in a bundle', (y) => lsCommand(y), run(runLs as Handler))
    .command('push <bundle>', 'push the images of a bundle into a registry, digests unchanged', (y) => pushCommand(y), run(runPush as Handler))
    .command('load <bundle>', 'load a bundle into a Docker engine (Engine API over DOCKER_HOST)', (y) => loadCommand(y), run(runLoad as Handler))
    .command('login <host>', 'store registry credentials in the Docker config', (y) => loginCommand(y), run(runLogin as Handler))
    .command('logout <host>', 'remove registry credentials from the Docker config', (y) => logoutCommand(y), run(runLogout as Handler))
    .command('cache', 'inspect and prune the blob cache', (y) => cacheCommand(y, run as never))
    .demandCommand(1, 'name a command; see ferry --help')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns || 100))
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
    return failure instanceof FerryError ? failure.exitCode : EXIT.failure;
  }
  return code;
}
