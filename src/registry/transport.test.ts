import { describe, expect, it } from 'vitest';
import { isLoopback, normaliseNoProxy } from './transport.js';

describe('normaliseNoProxy', () => {
  it.each([
    ['::1', '::1,[::1]'],
    ['localhost,127.0.0.1,::1', 'localhost,127.0.0.1,::1,[::1]'],
    ['fd00::5, .corp.example', 'fd00::5,[fd00::5],.corp.example'],
    ['[::1]', '[::1]'],
    ['registry:5000', 'registry:5000'],
    ['*', '*'],
  ])('%s -> %s', (input, want) => {
    expect(normaliseNoProxy(input)).toBe(want);
  });
});

describe('isLoopback (never proxied, plain HTTP allowed)', () => {
  it.each([
    ['localhost:5000', true],
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['[::1]:5000', true],
    ['registry.local:5000', false],
    ['10.0.0.1:5000', false],
    ['127.0.0.1.example.com', false],
  ])('%s -> %s', (host, want) => {
    expect(isLoopback(host)).toBe(want);
  });
});
