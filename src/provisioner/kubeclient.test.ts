import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../dev/kube/ports.ts';
import { createCa, issueClientCert, issueServerCert, type KeyPair } from '../auth/pki.ts';
import { createKubeClient, type KubeAccess } from './kubeclient.ts';

/** A TLS server that demands a client certificate of `ca`, as kube-apiserver does. */
async function apiServer(
  serverCert: KeyPair,
  caPem: string,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(
    {
      cert: serverCert.certPem,
      key: serverCert.keyPem,
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    handle,
  );
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return { server, url: `https://127.0.0.1:${port}` };
}

const status = (res: ServerResponse, code: number, message: string) =>
  res
    .writeHead(code, { 'content-type': 'application/json' })
    .end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code }));

describe('createKubeClient (@kubernetes/client-node, mutual TLS)', () => {
  let ca: KeyPair;
  let serverCert: KeyPair;
  let access: Omit<KubeAccess, 'server'>;
  const servers: Server[] = [];
  beforeAll(async () => {
    ca = await createCa({ commonName: 'cluster-ca' });
    serverCert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
    const client = await issueClientCert({
      ca,
      commonName: 'kaas',
      organization: 'kaas:cluster-admins',
      days: 1,
    });
    access = { caPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem };
  });
  afterEach(() => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      s.close();
    }
  });
  const start = async (handle: (req: IncomingMessage, res: ServerResponse) => void, cert = serverCert) => {
    const api = await apiServer(cert, ca.certPem, handle);
    servers.push(api.server);
    return api.url;
  };

  it('reads Nodes and health with the client certificate, and maps refusals and error answers', async () => {
    const seen: { method?: string; url?: string; type?: string; user?: string }[] = [];
    const url = await start((req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({
        method: req.method,
        url: req.url,
        type: req.headers['content-type'],
        user: String(peer.subject?.CN),
      });
      if (req.url === '/readyz') return res.writeHead(200).end('ok');
      if (req.url === '/api/v1/nodes')
        return res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            kind: 'NodeList',
            apiVersion: 'v1',
            items: [
              {
                metadata: { name: 'n1', labels: { a: 'b' } },
                status: {
                  nodeInfo: { kubeletVersion: 'v1.37.2' },
                  conditions: [{ type: 'Ready', status: 'True' }],
                },
              },
            ],
          }),
        );
      if (req.url === '/api/v1/namespaces/kube-system/secrets') return status(res, 403, 'forbidden');
      return status(res, 422, 'maintenance freeze');
    });
    const kube = createKubeClient({ ...access, server: url });
    expect(await kube.healthy(new AbortController().signal)).toBe(true);
    expect(await kube.nodes()).toEqual([
      { name: 'n1', ready: true, kubeletVersion: 'v1.37.2', labels: { a: 'b' } },
    ]);
    await expect(kube.cordon('n1')).rejects.toMatchObject({
      code: 'kube_api_error',
      message: 'Kubernetes API cordon of n1 answered 422: maintenance freeze',
    });
    await expect(
      kube.ensureBootstrapToken('abcdef.0123456789abcdef', '2030-01-01T00:00:00Z'),
    ).rejects.toMatchObject({
      code: 'kube_api_refused',
      message: expect.stringContaining('the cluster refuses kaas (403 Forbidden'),
    });
    expect(seen.find((s) => s.method === 'PATCH')).toMatchObject({
      url: '/api/v1/nodes/n1',
      type: 'application/merge-patch+json',
      user: 'kaas',
    });
    await kube.close();
  });

  it('sends a call again on a new connection when its kept connection is reset, but only once', async () => {
    const nodeList = (res: ServerResponse) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', items: [] }));
    // The peer of a kept connection goes away: the second request on any connection is reset.
    const used = new WeakSet<object>();
    let resets = 0;
    const url = await start((req, res) => {
      if (used.has(req.socket)) {
        resets += 1;
        return req.socket.destroy();
      }
      used.add(req.socket);
      nodeList(res);
    });
    const kube = createKubeClient({ ...access, server: url });
    expect(await kube.nodes()).toEqual([]);
    expect(await kube.nodes()).toEqual([]);
    expect(resets).toBe(1);
    await kube.close();

    let calls = 0;
    const resetting = await start((req) => {
      calls += 1;
      req.socket.destroy();
    });
    await expect(createKubeClient({ ...access, server: resetting }).deleteNode('n1')).rejects.toMatchObject({
      code: 'kube_api_unreachable',
      message: 'connection reset by the API (ECONNRESET)',
    });
    expect(calls).toBe(2);
  });

  it('says why an API cannot be reached: refused, foreign certificate, no answer before close()', async () => {
    const refused = createKubeClient({ ...access, server: `https://127.0.0.1:${await freePort()}` });
    await expect(refused.nodes()).rejects.toMatchObject({
      code: 'kube_api_unreachable',
      message: expect.stringMatching(/^connection refused/),
    });
    expect(await refused.healthy(new AbortController().signal)).toBe(false);

    const otherCa = await createCa({ commonName: 'other-ca' });
    const foreign = await start(
      (_req, res) => res.end(),
      await issueServerCert({ ca: otherCa, hosts: ['127.0.0.1'] }),
    );
    await expect(createKubeClient({ ...access, server: foreign }).nodes()).rejects.toMatchObject({
      code: 'kube_api_unreachable',
      message: expect.stringMatching(/^TLS: /),
    });

    const silent = await start(() => undefined);
    const kube = createKubeClient({ ...access, server: silent });
    const pending = kube.nodes();
    setTimeout(() => void kube.close(), 200);
    await expect(pending).rejects.toMatchObject({ code: 'kube_api_unreachable' });
  });
});
