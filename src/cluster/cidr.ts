/**
 * IPv4 address and CIDR arithmetic for validating cluster networks. Kept tiny and IPv4-only because
 * the generated clusters (flannel vxlan, kubeadm defaults) are single-stack IPv4.
 */

/** A parsed IPv4 prefix: `base` is the network address as an unsigned 32-bit integer. */
export interface Ipv4Cidr {
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses a dotted-quad IPv4 address to an unsigned integer; undefined when malformed. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

/** Formats an unsigned 32-bit integer as a dotted-quad IPv4 address. */
export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * Parses `a.b.c.d/n`; undefined when malformed or when host bits are set (`10.0.0.1/8` is
 * almost always a typo, and Neutron would silently normalise it).
 */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const base = parseIpv4(match[1] as string);
  const prefix = Number(match[2]);
  if (base === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined;
  return { base, prefix, size };
}

/** True when the two prefixes share at least one address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** True when `address` (an integer from parseIpv4) lies inside `cidr`. */
export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return address >= cidr.base && address < cidr.base + cidr.size;
}

/** The n-th address of the prefix (0 = network address). */
export function nthAddress(cidr: Ipv4Cidr, n: number): number {
  return cidr.base + n;
}
