import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { promptPassword } from './login.js';

/** A stand-in terminal: stdin that records raw mode, stderr that records what is written. */
function terminal(): { input: NodeJS.ReadStream; output: NodeJS.WriteStream; raw: boolean[]; written: () => string } {
  const input = new PassThrough() as unknown as NodeJS.ReadStream & { setRawMode: (b: boolean) => void };
  const raw: boolean[] = [];
  input.setRawMode = (b: boolean) => {
    raw.push(b);
    return input;
  };
  let text = '';
  const output = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  return { input, output, raw, written: () => text };
}

describe('promptPassword (the terminal prompt of ferry login)', () => {
  it('reads up to Enter in raw mode, echoes nothing, restores the mode', async () => {
    const t = terminal();
    const p = promptPassword('Password: ', t.input, t.output);
    t.input.write('s3cr');
    t.input.write('et\r');
    expect(await p).toBe('s3cret');
    expect(t.written()).toBe('Password: \n');
    expect(t.raw).toEqual([true, false]);
  });

  it('handles backspace and Ctrl-U', async () => {
    const t = terminal();
    const p = promptPassword('Password: ', t.input, t.output);
    t.input.write('wrong\u0015pax\u007fss\n');
    expect(await p).toBe('pass');
  });

  it('Ctrl-C cancels with a UsageError and restores the mode', async () => {
    const t = terminal();
    const p = promptPassword('Password: ', t.input, t.output);
    t.input.write('abc\u0003');
    await expect(p).rejects.toBeInstanceOf(UsageError);
    expect(t.raw).toEqual([true, false]);
  });
});
