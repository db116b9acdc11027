import { describe, expect, it } from 'vitest';
import type { NodeState } from './kubeclient.ts';
import { summarizeNodes } from './observe.ts';
import { unreachableReason } from './unreachable.ts';

const spec = {
  name: 'prod',
  nodeGroups: [
    { name: 'default', count: 2, flavor: 'f', image: 'i', labels: {} },
    { name: 'gpu', count: 1, flavor: 'f', image: 'i', labels: {} },
  ],
};
const node = (name: string, ready: boolean, kubeletVersion = 'v1.37.2'): NodeState => ({
  name,
  ready,
  kubeletVersion,
  labels: {},
});

describe('summarizeNodes', () => {
  it('counts per group, masters first, every spec group shown even without nodes, strays under other', () => {
    expect(
      summarizeNodes(spec, [
        node('kaas-prod-default-1', false, 'v1.36.4'),
        node('kaas-prod-master-0', true),
        node('kaas-prod-default-0', true),
        node('debug-box', true, ''),
      ]),
    ).toEqual({
      nodes: { ready: 3, total: 4 },
      groups: [
        { name: 'masters', ready: 1, total: 1, kubeletVersions: ['v1.37.2'] },
        { name: 'default', ready: 1, total: 2, kubeletVersions: ['v1.36.4', 'v1.37.2'] },
        { name: 'gpu', ready: 0, total: 0, kubeletVersions: [] },
        { name: 'other', ready: 1, total: 1, kubeletVersions: [] },
      ],
    });
  });
});

describe('unreachableReason', () => {
  const fetchFailed = (cause: object) => Object.assign(new TypeError('fetch failed'), { cause });
  it('names the socket, DNS and TLS failures undici reports as causes', () => {
    expect(unreachableReason(fetchFailed({ code: 'ECONNREFUSED' }))).toMatch(/^connection refused/);
    expect(unreachableReason(fetchFailed({ code: 'ENOTFOUND' }))).toMatch(/^DNS: /);
    expect(unreachableReason(fetchFailed({ code: 'EHOSTUNREACH' }))).toMatch(/^no route/);
    expect(unreachableReason(fetchFailed({ code: 'UND_ERR_CONNECT_TIMEOUT' }))).toMatch(/^timeout/);
    expect(unreachableReason(fetchFailed({ code: 'SELF_SIGNED_CERT_IN_CHAIN' }))).toBe(
      "TLS: the API's certificate was refused (SELF_SIGNED_CERT_IN_CHAIN)",
    );
    expect(unreachableReason(fetchFailed({ code: 'EPIPE' }))).toBe('unreachable: EPIPE');
  });
  it('reads the code node-fetch (@kubernetes/client-node) puts on its FetchError', () => {
    const fetchError = (code: string) =>
      Object.assign(new Error(`request to https://192.0.2.1/api failed, reason: ${code}`), {
        name: 'FetchError',
        code,
      });
    expect(unreachableReason(fetchError('ECONNREFUSED'))).toMatch(/^connection refused/);
    expect(unreachableReason(fetchError('ERR_TLS_CERT_ALTNAME_INVALID'))).toMatch(/^TLS: /);
  });
  it('reports an elapsed AbortSignal.timeout as a timeout', () => {
    expect(unreachableReason(new DOMException('The operation timed out.', 'TimeoutError'))).toMatch(
      /^timeout/,
    );
  });
});
