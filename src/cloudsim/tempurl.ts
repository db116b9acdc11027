import { createHmac, timingSafeEqual } from 'node:crypto';
import { contains, parseCidr } from './ipam.ts';

const HEX_LENGTHS: Record<number, string> = { 40: 'sha1', 64: 'sha256', 128: 'sha512' };

export interface TempUrlRequest {
  method: string;
  /** Decoded object path as Swift signs it: `/v1/AUTH_x/container/object`. */
  path: string;
  query: URLSearchParams;
  /** Account keys (Temp-URL-Key, Temp-URL-Key-2) and the object's container keys. */
  accountKeys: string[];
  containerKeys: string[];
  /** Epoch milliseconds. */
  now: number;
  clientIp?: string;
  allowedDigests?: string[];
}

/** Parses `temp_url_expires`: integer seconds or ISO 8601 UTC (`2026-01-01T00:00:00Z`), as Swift accepts. */
export function parseExpires(text: string | null): number | undefined {
  if (text === null) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text)) return Date.parse(text) / 1000;
  return undefined;
}

/** Digest name and hex signature of `temp_url_sig` (hex by length, or `alg:base64`). */
function parseSig(sig: string): { digest: string; hex: string } | undefined {
  const colon = sig.indexOf(':');
  if (colon >= 0) {
    const digest = sig.slice(0, colon);
    const b64 = sig
      .slice(colon + 1)
      .replace(/-/g, '+')
      .replace(/_/g, '/');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
    return { digest, hex: Buffer.from(b64, 'base64').toString('hex') };
  }
  const digest = HEX_LENGTHS[sig.length];
  if (!digest || !/^[0-9a-fA-F]+$/.test(sig)) return undefined;
  return { digest, hex: sig.toLowerCase() };
}

/**
 * Validates a TempURL the way Swift's tempurl middleware does: HMAC over `METHOD\nEXPIRES\nPATH`
 * (prefixed with `ip=RANGE\n` when `temp_url_ip_range` is set; PATH is `prefix:/v1/…/prefix` for prefix
 * URLs), with any account or container key. HEAD is also allowed by a GET, POST or PUT signature.
 */
export function verifyTempUrl(r: TempUrlRequest): boolean {
  const sigText = r.query.get('temp_url_sig');
  const expires = parseExpires(r.query.get('temp_url_expires'));
  if (!sigText || expires === undefined || expires * 1000 < r.now) return false;
  const sig = parseSig(sigText);
  if (!sig || !(r.allowedDigests ?? ['sha1', 'sha256', 'sha512']).includes(sig.digest)) return false;
  const prefix = r.query.get('temp_url_prefix');
  let path = r.path;
  if (prefix !== null) {
    const parts = r.path.split('/');
    const containerPath = parts.slice(0, 4).join('/');
    const object = parts.slice(4).join('/');
    if (!object.startsWith(prefix)) return false;
    path = `prefix:${containerPath}/${prefix}`;
  }
  const ipRange = r.query.get('temp_url_ip_range');
  if (ipRange !== null) {
    const cidr = parseCidr(ipRange.includes('/') ? ipRange : `${ipRange}/32`);
    if (!cidr || !r.clientIp || !contains(cidr, r.clientIp.replace(/^::ffff:/, ''))) return false;
  }
  const methods = r.method === 'HEAD' ? ['HEAD', 'GET', 'POST', 'PUT'] : [r.method];
  const expected = Buffer.from(sig.hex, 'hex');
  for (const key of [...r.accountKeys, ...r.containerKeys]) {
    for (const method of methods) {
      const body = `${ipRange !== null ? `ip=${ipRange}\n` : ''}${method}\n${expires}\n${path}`;
      const mac = createHmac(sig.digest, key).update(body).digest();
      if (mac.length === expected.length && timingSafeEqual(mac, expected)) return true;
    }
  }
  return false;
}
