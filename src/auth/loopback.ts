/**
 * Whether `url` may be plain http: only to this machine (127.0.0.0/8, ::1, localhost), as
 * `kaas dev` serves. Tokens never cross a network in clear; everything else must be https.
 */
export function plainHttpAllowed(url: URL): boolean {
  return url.protocol === 'http:' && /^(127(\.\d{1,3}){3}|localhost|\[::1\])$/.test(url.hostname);
}
