/**
 * Parsing the answer of POST /images/load: newline-delimited JSON messages —
 * `{"stream":"Loaded image: foo:1\n"}`, `{"status":...}`, `{"error":"...","errorDetail":{...}}`.
 * The HTTP status is 200 even when the load failed, so every line is read.
 */
export interface LoadAnswer {
  loaded: string[];
  errors: string[];
}

/** Reads the whole answer. Lines that are not JSON are kept as errors (a broken engine). */
export async function parseLoadAnswer(body: AsyncIterable<Buffer | string>): Promise<LoadAnswer> {
  const out: LoadAnswer = { loaded: [], errors: [] };
  let buf = '';
  const line = (l: string): void => {
    const t = l.trim();
    if (!t) return;
    let msg: { stream?: string; error?: string; errorDetail?: { message?: string } };
    try {
      msg = JSON.parse(t) as typeof msg;
    } catch {
      out.errors.push(t);
      return;
    }
    if (msg.error || msg.errorDetail?.message) out.errors.push(msg.errorDetail?.message ?? msg.error ?? 'unknown error');
    const m = msg.stream ? /Loaded image(?: ID)?: (\S+)/.exec(msg.stream) : null;
    if (m) out.loaded.push(m[1]!);
  };
  for await (const chunk of body) {
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      line(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  line(buf);
  return out;
}
