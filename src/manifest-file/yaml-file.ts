/**
 * Reading a YAML (or JSON) file that a person writes, for the manifest file and the import
 * config: the text is parsed with positions, so that every problem, a YAML syntax error or a
 * schema issue from zod, is reported as `file:line:column: field: message`, all at once.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isScalar, type Node, type Document } from 'yaml';
import type { z } from 'zod';
import { FerryError, describe } from '../errors.js';

export type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

/**
 * The source position of the node at `path`, or of its nearest ancestor. With `atKey`, the
 * position of the last path element's key (for unknown keys).
 */
export function position(doc: Document, lc: LineCounter, path: readonly PathPart[], atKey = false): { line: number; col: number } {
  const nodeAt = (p: readonly PathPart[]): Node | undefined => (p.length === 0 ? (doc.contents as Node | null) ?? undefined : (doc.getIn(p, true) as Node | undefined));
  const pos = (offset: number): { line: number; col: number } => {
    const p = lc.linePos(offset);
    return { line: p.line, col: p.col };
  };
  if (atKey && path.length > 0) {
    const parent = nodeAt(path.slice(0, -1));
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === path[path.length - 1]);
      const key = pair?.key as Node | undefined;
      if (key?.range) return pos(key.range[0]);
    }
  }
  for (let n = path.length; n >= 0; n--) {
    const node = nodeAt(path.slice(0, n));
    if (node?.range) return pos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

export interface YamlFile {
  /** The parsed value (plain JavaScript). */
  value: unknown;
  /** `file:line:column` of the node at `path` (of its key with `atKey`). */
  at(path: readonly PathPart[], atKey?: boolean): string;
}

/** What a kind of file is called in messages, and the hint for its problems. */
export interface FileKind {
  /** "manifest file", "import config file". */
  name: string;
  hint: string;
}

/** The error listing every problem of a file (exit 2). */
export function fileProblems(file: string, kind: FileKind, problems: readonly string[]): FerryError {
  return new FerryError('MANIFEST_FILE', `${file} is not a valid ${kind.name}:\n  ${problems.join('\n  ')}`, { hint: kind.hint });
}

/** Reads and parses `file`; throws (exit 2) when it cannot be read or is not valid YAML, naming each error's position. */
export async function readYamlFile(file: string, kind: FileKind): Promise<YamlFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FerryError('MANIFEST_FILE', `reading ${kind.name} ${file}: ${describe(err)}`, { hint: `name an existing YAML or JSON ${kind.name}` });
  }
  const lc = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw fileProblems(file, kind, doc.errors.map((e) => {
      const p = e.pos ? lc.linePos(e.pos[0]) : { line: 1, col: 1 };
      return `${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`;
    }));
  }
  return {
    value: doc.toJS() as unknown,
    at: (path, atKey = false) => {
      const p = position(doc, lc, path, atKey);
      return `${file}:${p.line}:${p.col}`;
    },
  };
}

/**
 * zod's issues as `file:line:column: field: message` lines. Unknown keys point at the key and
 * say "a typo?"; `unionMessage` words a failed union for its path.
 */
export function schemaProblems(y: YamlFile, issues: readonly z.core.$ZodIssue[], unionMessage: (path: readonly PathPart[]) => string): string[] {
  return issues.map((i) => {
    let path = i.path as PathPart[];
    let msg = i.message;
    const unknownKey = i.code === 'unrecognized_keys';
    if (unknownKey) {
      path = [...path, i.keys[0]!];
      msg = `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (a typo?)`;
    }
    if (i.code === 'invalid_union') msg = unionMessage(path);
    return `${y.at(path, unknownKey)}: ${formatPath(path) || '(top level)'}: ${msg}`;
  });
}
