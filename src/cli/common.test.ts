import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { concurrencyOption } from './common.js';

describe('concurrencyOption', () => {
  it.each([['1', 1], ['4', 4], ['64', 64], [8, 8]] as const)('%j -> %i', (v, want) => {
    expect(concurrencyOption(v)).toBe(want);
  });

  it.each(['abc', '0', '65', '2.5', '-1', '0x10', '', '1e1'])('rejects %j saying what it got, literally, and what is allowed', (v) => {
    expect(() => concurrencyOption(v)).toThrow(UsageError);
    expect(() => concurrencyOption(v)).toThrow(`--concurrency must be a whole number from 1 to 64, got "${v}"`);
  });
});
