import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output, barLine, formatBytes, formatSeconds, retryLine } from './output.js';

/** A stream that says it is a terminal, and what was written to it. */
function fakeTerminal(columns = 100, rows = 20): { stream: PassThrough & { isTTY: boolean; columns: number; rows: number }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns, rows });
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { stream, text: () => chunks.join('') };
}

/** What a terminal would show for `raw`: applies "\r", cursor-up (ESC[nA) and clear-to-end (ESC[J). */
function screen(raw: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  for (const tok of raw.split(/(\x1b\[\d*A|\x1b\[J|\r|\n)/)) {
    if (!tok) continue;
    const up = /^\x1b\[(\d*)A$/.exec(tok);
    if (up) row = Math.max(0, row - Number(up[1] || 1));
    else if (tok === '\x1b[J') lines.splice(row, lines.length - row, '');
    else if (tok === '\r') continue;
    else if (tok === '\n') {
      row++;
      if (lines.length <= row) lines.push('');
    } else lines[row] = tok;
  }
  return lines.filter((l, i) => l !== '' || i < lines.length - 1);
}

const noCI = <T>(fn: () => T): T => {
  const ci = process.env.CI;
  delete process.env.CI;
  try {
    return fn();
  } finally {
    if (ci !== undefined) process.env.CI = ci;
  }
};

describe('formatting', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 KB'],
    [999_960, '1.0 MB'],
    [5_300_000, '5.3 MB'],
    [2_500_000_000, '2.5 GB'],
  ])('formatBytes(%i) = %s', (n, want) => expect(formatBytes(n)).toBe(want));

  it.each([
    [20, '20 ms'],
    [500, '0.5 s'],
    [2000, '2 s'],
    [1340, '1.3 s'],
    [12_400, '12 s'],
  ])('formatSeconds(%i) = %s', (ms, want) => expect(formatSeconds(ms)).toBe(want));

  it('a retry line says what, when, which attempt and why', () => {
    expect(retryLine({ what: 'fetching sha256:ab from r/x', attempt: 2, attempts: 5, delayMs: 2000, reason: 'connection reset' })).toBe(
      'fetching sha256:ab from r/x: retrying in 2 s (2/5): connection reset',
    );
  });

  it('a bar line is cut to the width and never wraps', () => {
    const line = barLine({ name: 'x'.repeat(200), total: 10, done: 5, started: Date.now() }, Date.now(), 80);
    expect([...line].length).toBe(80);
    expect(line).toMatch(/^ █{12}░{12}  50% \|/);
  });
});

describe('Output on a terminal', () => {
  it('prints lines above the live bars as they come, and a finished bar stays at 100% with "cached" or its rate', () =>
    noCI(() => {
      const t = fakeTerminal();
      const out = new Output({ quiet: false, json: false, stream: t.stream });
      out.info('first line');
      out.start('a', 'image-a', 1000);
      out.start('b', 'image-b', 2000);
      out.progress('a', 400);
      out.warn('careful');
      out.done('b', { moved: 0 });
      out.progress('a', 600); // reaches its total: ends by itself
      out.stop();
      out.info('after the bars');
      const s = screen(t.text());
      expect(s[0]).toBe('first line');
      expect(s[1]).toBe('warning: careful');
      expect(s[2]).toMatch(/^ █{24} 100% \| +2\.0 KB \/ +2\.0 KB \| +cached \| image-b$/);
      expect(s[3]).toMatch(/^ █{24} 100% \| +1\.0 KB \/ +1\.0 KB \| +[\d.]+ [KMG]?B\/s \| image-a$/);
      expect(s[4]).toBe('after the bars');
      expect(s).toHaveLength(5);
    }));

  it('a failed entry keeps its percentage and says "failed"; stop() leaves running bars as they are', () =>
    noCI(() => {
      const t = fakeTerminal();
      const out = new Output({ quiet: false, json: false, stream: t.stream });
      out.start('a', 'image-a', 1000);
      out.start('b', 'image-b', 1000);
      out.progress('a', 300);
      out.done('a', { failed: true });
      out.progress('b', 500);
      out.stop();
      const s = screen(t.text());
      expect(s[0]).toMatch(/  30% \| .* \| +failed \| image-a$/);
      expect(s[1]).toMatch(/  50% \| .* \| image-b$/);
      expect(s).toHaveLength(2);
    }));

  it('a command without bars prints its lines at once', () =>
    noCI(() => {
      const t = fakeTerminal();
      new Output({ quiet: false, json: false, stream: t.stream }).info('login succeeded');
      expect(t.text()).toBe('login succeeded\n');
    }));

  it('more bars than rows: the live region is cut with "... and N more"', () =>
    noCI(() => {
      const t = fakeTerminal(100, 5);
      const out = new Output({ quiet: false, json: false, stream: t.stream });
      for (let i = 0; i < 6; i++) out.start(`k${i}`, `image-${i}`, 10);
      out.info('x');
      const s = screen(t.text());
      expect(s).toEqual(['x', expect.stringMatching(/image-0$/), expect.stringMatching(/image-1$/), '  ... and 4 more']);
      out.stop();
    }));
});

describe('Output elsewhere', () => {
  it('piped: plain lines, no bars, no escape codes', () => {
    const stream = Object.assign(new PassThrough(), { isTTY: false });
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString()));
    const out = new Output({ quiet: false, json: false, stream });
    out.start('a', 'image-a', 10);
    out.progress('a', 10);
    out.info('saved a');
    out.warn('w');
    out.stop();
    expect(chunks.join('')).toBe('saved a\nwarning: w\n');
  });

  it('--quiet: warnings only, also on a terminal', () =>
    noCI(() => {
      const t = fakeTerminal();
      const out = new Output({ quiet: true, json: false, stream: t.stream });
      out.start('a', 'image-a', 10);
      out.info('saved a');
      out.warn('w');
      out.stop();
      expect(t.text()).toBe('warning: w\n');
    }));
});
