import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendJournal, parseJournal, readJournal, type JournalEntry } from './journal.js';

const e = (hex: string, bundle = 'b.tar.gz'): JournalEntry => ({ bundle, sha256: hex.repeat(64), bytes: 1, target: 'r:5000', images: [{ source: 's', target: 't', digest: 'sha256:x' }], time: '2026-01-01T00:00:00.000Z' });

describe('import journal', () => {
  it('a missing journal is empty', async () => {
    expect((await readJournal(join(mkdtempSync(join(tmpdir(), 'journal-')), 'imports.jsonl'))).size).toBe(0);
  });

  it('appends one line per entry and reads them back by sha256', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'journal-')), 'imports.jsonl');
    await appendJournal(path, e('a'));
    await appendJournal(path, e('b'));
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(3);
    const j = await readJournal(path);
    expect([...j.keys()]).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
    expect(j.get('a'.repeat(64))).toEqual(e('a'));
  });

  it('a line cut short by a crash is skipped, and the next entry starts on its own line', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'journal-')), 'imports.jsonl');
    writeFileSync(path, `${JSON.stringify(e('a'))}\n{"bundle":"cut`);
    await appendJournal(path, e('c'));
    expect([...(await readJournal(path)).keys()]).toEqual(['a'.repeat(64), 'c'.repeat(64)]);
  });

  it('ignores lines that are not entries', () => {
    expect(parseJournal('{}\n[]\n{"sha256":"nothex","bundle":"x"}\n').size).toBe(0);
  });
});
