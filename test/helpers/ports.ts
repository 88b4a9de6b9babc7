/** A free loopback port for a server a test starts itself. */
import { once } from 'node:events';
import { createServer } from 'node:net';

export async function sparePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}
