import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { webhookKubeconfig, webhookKubeconfigYaml } from './kubeconfig.ts';

describe('webhook kubeconfig', () => {
  it('names the per-cluster URL and embeds the CA, never skipping verification', () => {
    const k = webhookKubeconfig({ kaasUrl: 'https://kaas.example:8443/', clusterId: 'c-1', caPem: 'PEM' });
    expect(k.clusters[0]?.cluster).toEqual({
      server: 'https://kaas.example:8443/tokenreview/c-1',
      'certificate-authority-data': Buffer.from('PEM').toString('base64'),
    });
    const yaml = webhookKubeconfigYaml({ kaasUrl: 'https://kaas.example', clusterId: 'c-1', caPem: 'PEM' });
    expect(yaml).not.toContain('insecure');
    expect(parse(yaml).clusters[0].cluster.server).toBe('https://kaas.example/tokenreview/c-1');
  });
  it('refuses http and odd cluster ids', () => {
    expect(() => webhookKubeconfig({ kaasUrl: 'http://kaas', clusterId: 'c', caPem: '' })).toThrow(/https/);
    expect(() => webhookKubeconfig({ kaasUrl: 'https://kaas', clusterId: 'c' })).toThrow(/needs the CA/);
    // kaas dev: plain http to this machine only, and then no CA.
    const local = webhookKubeconfig({ kaasUrl: 'http://127.0.0.1:8080', clusterId: 'c' });
    expect(local.clusters[0]?.cluster).toEqual({ server: 'http://127.0.0.1:8080/tokenreview/c' });
    expect(() => webhookKubeconfig({ kaasUrl: 'https://kaas', clusterId: '../x', caPem: '' })).toThrow(
      /cluster id/,
    );
  });
});
