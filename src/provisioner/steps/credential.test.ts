import { describe, expect, it } from 'vitest';
import { missingProjectRoles } from './credential.ts';

describe('missingProjectRoles', () => {
  it('asks for member, and load-balancer_member where the catalog has Octavia', () => {
    expect(missingProjectRoles([], true)).toEqual(['member', 'load-balancer_member']);
    expect(missingProjectRoles(['reader'], false)).toEqual(['member']);
    expect(missingProjectRoles(['member', 'reader'], true)).toEqual(['load-balancer_member']);
    expect(missingProjectRoles(['load-balancer_member'], true)).toEqual(['member']);
    expect(missingProjectRoles(['member', 'load-balancer_member'], true)).toEqual([]);
    expect(missingProjectRoles(['member'], false)).toEqual([]);
  });

  it("takes admin and load-balancer_admin for load-balancer_member, as Octavia's default policy does", () => {
    expect(missingProjectRoles(['admin', 'member', 'reader'], true)).toEqual([]);
    expect(missingProjectRoles(['load-balancer_admin', 'member'], true)).toEqual([]);
    // Neither stands in for member: Nova, Neutron, Cinder and Swift ask for it.
    expect(missingProjectRoles(['load-balancer_admin'], true)).toEqual(['member']);
  });
});
