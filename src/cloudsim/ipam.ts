/** IPv4 helpers for Neutron subnets: CIDR parsing and address allocation. */

export interface Cidr {
  network: number;
  prefix: number;
  text: string;
}

export function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/n`; undefined when malformed or when host bits are set (Neutron rejects both). */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, len, extra] = text.split('/');
  if (ip === undefined || len === undefined || extra !== undefined || !/^\d{1,2}$/.test(len))
    return undefined;
  const prefix = Number(len);
  const base = ipToInt(ip);
  if (base === undefined || prefix > 32) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((base & mask) >>> 0 !== base) return undefined;
  return { network: base, prefix, text };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: string): boolean {
  const n = ipToInt(ip);
  return n !== undefined && n >= c.network && n < c.network + cidrSize(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

/** First free address of the pools, or undefined when exhausted. */
export function allocate(pools: { start: string; end: string }[], used: Set<string>): string | undefined {
  for (const pool of pools) {
    const start = ipToInt(pool.start) ?? 0;
    const end = ipToInt(pool.end) ?? -1;
    for (let n = start; n <= end; n++) {
      const ip = intToIp(n);
      if (!used.has(ip)) return ip;
    }
  }
  return undefined;
}
