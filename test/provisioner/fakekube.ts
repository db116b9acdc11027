/** A tiny fake Kubernetes API on 127.0.0.1:0 that records what a drain does. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePod {
  namespace: string;
  name: string;
  node: string;
  daemonSet?: boolean;
  /** Evictions refused with 429 (PodDisruptionBudget) before one is accepted; Infinity = always. */
  refusals?: number;
}

export interface FakeKube {
  url: string;
  /** `METHOD path` of every request, in order. */
  calls: string[];
  pods: FakePod[];
  healthy: boolean;
  /** Names of the Secrets created in kube-system. */
  secrets: Set<string>;
  /** Status every cordon PATCH answers with (default 200). */
  cordonStatus: number;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

/** Starts the fake API; `pods` may be changed by the test between operations. */
export async function startFakeKube(pods: FakePod[]): Promise<FakeKube> {
  const state: Omit<FakeKube, 'url' | 'close'> = {
    calls: [],
    pods,
    healthy: true,
    cordonStatus: 200,
    secrets: new Set<string>(),
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const text = await body(req);
      state.calls.push(`${req.method} ${url.pathname}${text ? ` ${text}` : ''}`);
      const json = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (url.pathname === '/healthz') return json(state.healthy ? 200 : 503, 'ok');
      if (req.method === 'PATCH' && url.pathname.startsWith('/api/v1/nodes/'))
        return json(
          state.cordonStatus,
          state.cordonStatus === 200 ? {} : { message: 'etcdserver: request timed out' },
        );
      if (req.method === 'DELETE' && url.pathname.startsWith('/api/v1/nodes/')) return json(200, {});
      if (req.method === 'POST' && url.pathname === '/api/v1/namespaces/kube-system/secrets') {
        const name = (JSON.parse(text) as { metadata: { name: string } }).metadata.name;
        if (state.secrets.has(name)) return json(409, { reason: 'AlreadyExists' });
        state.secrets.add(name);
        return json(201, {});
      }
      if (req.method === 'PATCH' && url.pathname.startsWith('/api/v1/namespaces/kube-system/secrets/'))
        return json(200, {});
      if (req.method === 'GET' && url.pathname === '/api/v1/pods') {
        const node = (url.searchParams.get('fieldSelector') ?? '').replace('spec.nodeName=', '');
        return json(200, {
          items: state.pods
            .filter((p) => p.node === node)
            .map((p) => ({
              metadata: {
                namespace: p.namespace,
                name: p.name,
                ...(p.daemonSet ? { ownerReferences: [{ kind: 'DaemonSet' }] } : {}),
              },
            })),
        });
      }
      const evict = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(url.pathname);
      if (req.method === 'POST' && evict) {
        const pod = state.pods.find((p) => p.namespace === evict[1] && p.name === evict[2]);
        if (!pod) return json(404, { reason: 'NotFound' });
        if ((pod.refusals ?? 0) > 0) {
          pod.refusals = (pod.refusals ?? 0) - 1;
          return json(429, {
            reason: 'TooManyRequests',
            message: 'Cannot evict pod as it would violate the pod disruption budget.',
          });
        }
        state.pods.splice(state.pods.indexOf(pod), 1);
        return json(201, { status: 'Success' });
      }
      return json(404, { reason: 'NotFound' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  });
}
