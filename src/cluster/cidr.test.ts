import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, formatIpv4, nthAddress, parseCidr, parseIpv4 } from './cidr.ts';

describe('cidr', () => {
  it('parses and formats IPv4 addresses', () => {
    expect(parseIpv4('10.96.0.10')).toBe(10 * 2 ** 24 + 96 * 2 ** 16 + 10);
    expect(formatIpv4(parseIpv4('255.255.255.255') as number)).toBe('255.255.255.255');
    for (const bad of ['10.0.0', '10.0.0.256', '01.0.0.1', 'a.b.c.d', '1.2.3.4.5']) {
      expect(parseIpv4(bad)).toBeUndefined();
    }
  });

  it('parses CIDRs and refuses host bits or bad prefixes', () => {
    expect(parseCidr('10.244.0.0/16')).toEqual({ base: parseIpv4('10.244.0.0'), prefix: 16, size: 65536 });
    expect(parseCidr('0.0.0.0/0')?.size).toBe(2 ** 32);
    for (const bad of ['10.244.0.1/16', '10.0.0.0/33', '10.0.0.0', '10.0.0.0/-1', 'x/8']) {
      expect(parseCidr(bad)).toBeUndefined();
    }
  });

  it('detects overlap and containment', () => {
    const a = parseCidr('10.0.0.0/16')!;
    expect(cidrsOverlap(a, parseCidr('10.0.255.0/24')!)).toBe(true);
    expect(cidrsOverlap(parseCidr('10.0.0.0/8')!, a)).toBe(true);
    expect(cidrsOverlap(a, parseCidr('10.1.0.0/16')!)).toBe(false);
    expect(cidrContains(a, parseIpv4('10.0.3.4')!)).toBe(true);
    expect(cidrContains(a, parseIpv4('10.1.0.0')!)).toBe(false);
    expect(formatIpv4(nthAddress(parseCidr('10.96.0.0/12')!, 10))).toBe('10.96.0.10');
  });
});
