/**
 * A TCP server on 127.0.0.1 for transport tests: every accepted socket is kept (errors
 * swallowed) and handed to `onSocket`; close() destroys them and closes the server.
 */
import { once } from 'node:events';
import * as net from 'node:net';

export interface LoopbackServer {
  port: number;
  sockets: net.Socket[];
  close(): Promise<void>;
}

export async function loopbackServer(onSocket: (s: net.Socket) => void = () => undefined): Promise<LoopbackServer> {
  const sockets: net.Socket[] = [];
  const srv = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    port: (srv.address() as net.AddressInfo).port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
