import { describe, expect, it } from 'vitest';
import { kubernetesUsername } from './username.ts';

describe('kubernetesUsername', () => {
  it('keeps default-domain names plain and qualifies every other domain under auto', () => {
    expect(kubernetesUsername({ name: 'alice', domainName: 'Default' }, 'auto')).toBe('alice');
    expect(kubernetesUsername({ name: 'alice', domainName: 'Engineering' }, 'auto')).toBe(
      'alice@Engineering',
    );
  });

  it('is one-to-one under auto, even for names that contain @', () => {
    const users = [
      { name: 'alice', domainName: 'Default' },
      { name: 'alice', domainName: 'Engineering' },
      { name: 'alice@Engineering', domainName: 'Default' },
      { name: 'bob', domainName: 'example.com' },
      { name: 'bob@example.com', domainName: 'Default' },
      { name: 'bob@example.com', domainName: 'example.com' },
    ];
    const names = users.map((u) => kubernetesUsername(u, 'auto'));
    expect(new Set(names).size).toBe(users.length);
    expect(names).toEqual([
      'alice',
      'alice@Engineering',
      'alice@Engineering@Default',
      'bob@example.com',
      'bob@example.com@Default',
      'bob@example.com@example.com',
    ]);
  });

  it('honours the explicit formats', () => {
    const u = { name: 'alice', domainName: 'Default' };
    expect(kubernetesUsername(u, 'name@domain')).toBe('alice@Default');
    expect(kubernetesUsername({ name: 'alice', domainName: 'Engineering' }, 'name')).toBe('alice');
  });
});
