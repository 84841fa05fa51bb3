/**
 * The HTTP(S) server of `ferry serve` (node:http, node:https): one handler, one access log
 * entry per request, and a graceful stop: `stop()` stops accepting connections, lets the
 * requests in flight finish (a slow pull runs to its end), closes idle keep-alive connections,
 * and resolves when the last connection is gone.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../errors.js';
import { loggedPath, type AccessEntry } from './access-log.js';
import { handle, type ServeContext } from './handler.js';
import { authority, type ListenAddress } from './listen-address.js';

export interface ServerOptions {
  listen: ListenAddress;
  tls: { cert: Buffer; key: Buffer } | undefined;
  context: ServeContext;
  /** Receives each access log entry (after the answer is complete or cut). */
  onRequest: (e: AccessEntry) => void;
}

export interface RunningServer {
  /** `http://127.0.0.1:5000`: the address bound, with the port chosen for port 0. */
  url: string;
  host: string;
  port: number;
  /** Requests being answered now. */
  inFlight(): number;
  /** Stops gracefully (see the file comment). */
  stop(): Promise<void>;
}

/** Starts listening. Throws UsageError (exit 2) when the address is in use or cannot be bound. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  let inFlight = 0;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const client = req.socket.remoteAddress ?? '?';
    inFlight++;
    const finish = (rec: { status: number; bytes: number; user: string | undefined; error: string | undefined }): void => {
      inFlight--;
      const e: AccessEntry = {
        time: new Date().toISOString(),
        client,
        method: req.method ?? '?',
        path: loggedPath(req.url),
        status: rec.status,
        bytes: rec.bytes,
        ms: Number((process.hrtime.bigint() - started) / 1_000_000n),
        ...(rec.user ? { user: rec.user } : {}),
        ...(rec.error ? { error: rec.error } : !res.writableFinished ? { error: 'the client went away before the answer was complete' } : {}),
      };
      opts.onRequest(e);
    };
    handle(opts.context, req, res).then(finish, (err: unknown) => {
      res.destroy();
      finish({ status: 500, bytes: 0, user: undefined, error: err instanceof Error ? err.message : String(err) });
    });
  };
  const server: Server = opts.tls ? createHttps({ cert: opts.tls.cert, key: opts.tls.key }, onRequest) : createHttp(onRequest);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, opts.listen)));
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `${opts.tls ? 'https' : 'http'}://${authority(addr.address, addr.port)}`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    host: addr.address,
    port: addr.port,
    inFlight: () => inFlight,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        const idle = setInterval(() => server.closeIdleConnections(), 100);
        server.close(() => {
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      })),
  };
}

function listenError(err: NodeJS.ErrnoException, at: ListenAddress): Error {
  const where = authority(at.host, at.port);
  if (err.code === 'EADDRINUSE') return new UsageError(`cannot listen on ${where}: the address is in use`, 'another process (a registry?) listens there; stop it, or choose another address with --listen HOST:PORT');
  if (err.code === 'EACCES') return new UsageError(`cannot listen on ${where}: permission denied`, 'ports below 1024 need privileges; choose another with --listen HOST:PORT');
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') return new UsageError(`cannot listen on ${where}: no such address on this machine`, 'choose one of its addresses (or 0.0.0.0) with --listen HOST:PORT');
  return new UsageError(`cannot listen on ${where}: ${err.message}`, 'choose another address with --listen HOST:PORT');
}

