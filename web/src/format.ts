const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** A timestamp for tables: date and time in the user's locale, or a dash. */
export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

/** A date without time, for expiry dates. */
export function formatDate(iso: string): string {
  return dateOnly.format(new Date(iso));
}

/** Whether an expiry time has passed. */
export function isExpired(iso: string, now = Date.now()): boolean {
  return new Date(iso).getTime() <= now;
}

/** Saves text as a file through a temporary object URL (no server round-trip, works under the CSP). */
export function saveFile(name: string, text: string, type = 'application/yaml'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
