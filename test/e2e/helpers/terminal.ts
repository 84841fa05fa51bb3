/**
 * Runs the built CLI in a real terminal: a tmux session on a private server socket (`-L`), 160
 * columns by 40 rows, no tmux config. The command runs under `env -i` with only the given
 * environment (plus PATH and LANG), like runFerry, then prints `EXIT=<code>` and sleeps so the
 * pane stays readable. The screen (with its scrollback, wrapped lines joined) is what a person
 * would have seen. The tmux server is killed afterwards, also when waiting fails.
 */
import { FERRY_BIN, REPO_ROOT } from './ferry.js';
import { run, runOk } from './processes.js';
import { waitFor } from './wait.js';

export interface TerminalRun {
  /** The pane's text after the command ended, trailing blank lines removed. */
  screen: string;
  code: number;
  /** The screen without the EXIT= line. */
  output: string;
}

let sessions = 0;

/** Single-quotes `s` for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `shellCommand` (already quoted; `FERRY` in it is replaced by `node bin/ferry`) in a fresh
 * tmux terminal with `env`. Throws when it does not end within `timeoutMs`.
 */
export async function inTerminal(shellCommand: string, env: NodeJS.ProcessEnv, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<TerminalRun> {
  const socket = `ferry-e2e-${process.pid}-${++sessions}`;
  const vars = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...env };
  const envArgs = Object.entries(vars)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => shQuote(`${k}=${v}`))
    .join(' ');
  const ferry = `env -i ${envArgs} ${shQuote(process.execPath)} ${shQuote(FERRY_BIN)}`;
  const cmd = `cd ${shQuote(opts.cwd ?? REPO_ROOT)} && ${shellCommand.replaceAll('FERRY', ferry)}; echo EXIT=$?; sleep 60`;
  const tmux = (...args: string[]) => ['-L', socket, '-f', '/dev/null', ...args];
  // The visible screen only, never the history: tmux 3.3 copies what a pane shows in its first
  // second or so into the history (a settling resize of a new detached window), so a bar that
  // was redrawn on screen would seem to stay there too (reproduced with a 10-line script that
  // prints two lines and moves up over them). The pane is tall enough for every test's output.
  await runOk('tmux', tmux('-u', 'new-session', '-d', '-s', 'ferry', '-x', '160', '-y', '100', cmd));
  try {
    let screen = '';
    await waitFor(
      async () => {
        const r = await run('tmux', tmux('capture-pane', '-p', '-J', '-t', 'ferry'));
        screen = r.stdout.replace(/\s+$/, '');
        return /^EXIT=\d+$/m.test(screen);
      },
      { what: `\`${shellCommand}\` in tmux`, timeoutMs: opts.timeoutMs ?? 150_000, intervalMs: 200, describe: () => screen },
    );
    const code = Number(/^EXIT=(\d+)$/m.exec(screen)![1]);
    const output = screen.replace(/^EXIT=\d+$/m, '').replace(/\s+$/, '');
    return { screen, code, output };
  } finally {
    await run('tmux', tmux('kill-server'));
  }
}

/** Lines of `screen` that are progress bars (" ███░░  45% | ... | name"). */
export function barLines(screen: string): string[] {
  return screen.split('\n').filter((l) => /^ [█░]+ +\d+% \|/.test(l));
}

/** Ferry's command line in a terminal: `FERRY a b c`, each argument quoted. */
export function ferryCommand(args: readonly string[]): string {
  return `FERRY ${args.map(shQuote).join(' ')}`;
}
