import { createCipheriv, randomBytes } from 'node:crypto';

/** A value as kaas sealed cluster secrets before key ids: `v1.<iv>.<tag>.<ciphertext>` (base64url). */
export function sealV1(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ...[iv, cipher.getAuthTag(), body].map((p) => p.toString('base64url'))].join('.');
}
