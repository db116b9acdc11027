import { describe, expect, it } from 'vitest';
import { dnsName, serviceHost } from './names.ts';

describe('dnsName', () => {
  it('keeps a name that is already a short DNS label', () => {
    expect(dnsName(['kaas', 'abc', 'view'])).toBe('kaas-abc-view');
  });

  it('cuts long names to 63 chars with a stable hash suffix', () => {
    const parts = ['kaas', 'a'.repeat(40), 'cr', 'b'.repeat(40)];
    const name = dnsName(parts);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(name).toMatch(/-[0-9a-f]{8}$/);
    expect(dnsName(parts)).toBe(name);
    expect(dnsName(['kaas', 'a'.repeat(40), 'cr', 'c'.repeat(40)])).not.toBe(name);
  });

  it('rewrites invalid characters and adds a hash so distinct inputs stay distinct', () => {
    const a = dnsName(['kaas', 'Team_A']);
    const b = dnsName(['kaas', 'team.a']);
    expect(a).toMatch(/^kaas-team-a-[0-9a-f]{8}$/);
    expect(b).toMatch(/^kaas-team-a-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });

  it('never returns an empty name', () => {
    expect(dnsName(['___'])).toMatch(/^x-[0-9a-f]{8}$/);
  });

  it('honours a smaller maximum', () => {
    expect(dnsName(['abcdefghijklmnop'], 12)).toMatch(/^abc-[0-9a-f]{8}$/);
  });
});

describe('serviceHost', () => {
  it('puts the service under the cluster subdomain', () => {
    expect(serviceHost('grafana', 'demo', 'kaas.example.org')).toBe('grafana.demo.kaas.example.org');
  });
});
