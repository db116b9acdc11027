import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';

/**
 * Lets `app.close()` finish promptly although clients hold connections that never carried a
 * request. Go's HTTP transport — kube-apiserver calling the TokenReview webhook — dials spare
 * connections and parks them; Node counts such a connection as a request still in progress, so
 * `server.close()` would wait for it (a minute or more), past a pod's termination grace period.
 * Connections that served requests are Node's to close (it closes the idle ones itself).
 */
export function dropUnusedConnectionsOnClose(app: FastifyInstance, tls: boolean): void {
  const unused = new Set<Socket>();
  let closing = false;
  app.server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  app.server.on('request', (request: { socket: Socket }) => unused.delete(request.socket));
  app.addHook('preClose', async () => {
    closing = true;
    for (const socket of unused) socket.destroy();
    unused.clear();
  });
}
