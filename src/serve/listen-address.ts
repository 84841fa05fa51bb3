/** `--listen HOST:PORT`: where the server listens (IPv6 in brackets: `[::1]:5000`). */
import { UsageError } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

const HINT = 'give HOST:PORT, e.g. 127.0.0.1:5000, 0.0.0.0:5000 or [::1]:5000 (port 0: any free port)';

/** Parses `value`. Throws UsageError (exit 2) for anything else than HOST:PORT with a port 0 to 65535. */
export function parseListen(value: string): ListenAddress {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]*):(\d+)$/.exec(value);
  if (!m) throw new UsageError(`--listen "${value}" is not HOST:PORT`, HINT);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--listen "${value}": port ${port} is above 65535`, HINT);
  return { host: m[1] || '0.0.0.0', port };
}

/** HOST:PORT as a URL authority (brackets around IPv6). */
export function authority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
