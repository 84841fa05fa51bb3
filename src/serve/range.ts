/**
 * The `Range` header of a blob GET (RFC 9110 section 14): one `bytes=` range, as registries
 * answer it. Several ranges (multipart answers) are not served: such a request gets the whole
 * blob, which RFC 9110 allows (a server may ignore Range).
 */

/** An inclusive byte range inside a blob. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses `header` for a blob of `size` bytes. Returns undefined when the whole blob should be
 * sent (no header, not a `bytes` range, several ranges), 'unsatisfiable' for a range that lies
 * outside the blob or is malformed (answered with 416), else the clamped range.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return undefined;
  const specs = m[1]!.split(',');
  if (specs.length > 1) return undefined;
  const one = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(specs[0]!);
  if (!one || (one[1] === '' && one[2] === '')) return 'unsatisfiable';
  if (one[1] === '') {
    // A suffix: the last N bytes.
    const n = Number(one[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(one[1]);
  const end = one[2] === '' ? size - 1 : Math.min(Number(one[2]), size - 1);
  if (start >= size || Number(one[2] === '' ? start : one[2]) < start) return 'unsatisfiable';
  return { start, end };
}

/** The `Content-Range` value of an answered range. */
export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.end}/${size}`;
}
