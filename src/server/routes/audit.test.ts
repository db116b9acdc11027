import { describe, expect, it } from 'vitest';
import type { Store } from '../../store/db.ts';
import type { AuditEvent } from '../../store/auditSchema.ts';
import { insertAuditEvent } from '../../store/insertAuditEvent.ts';
import { encodeCursor, parseCursor, parseLimit } from './audit.ts';
import { callAs, eachPanelTestApp } from '../../../test/support/panelApp.ts';

async function add(store: Store, n: number, overrides: Partial<Omit<AuditEvent, 'id'>> = {}): Promise<void> {
  await insertAuditEvent({
    db: store.db,
    event: {
      at: new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString(),
      actorUserId: 'u-admin',
      actorName: 'ada@Default',
      action: 'cluster.resize',
      target: 'c1',
      clusterId: 'c1',
      outcome: 'success',
      details: { status: 202, n },
      requestId: `req-${n}`,
      sourceIp: '10.0.0.1',
      ...overrides,
    },
  });
}

describe('audit routes', () => {
  const fx = eachPanelTestApp();

  it("pages through a cluster's events newest first, with the members' logins but not other clusters'", async () => {
    for (let n = 1; n <= 5; n++) await add(fx.store, n);
    await add(fx.store, 6, { clusterId: 'c3', target: 'c3' });
    await add(fx.store, 7, { action: 'login', clusterId: null, target: null, actorUserId: 'u-member' });
    await add(fx.store, 8, { action: 'login', clusterId: null, target: null, actorUserId: 'u-out' });

    const first = await callAs(fx.app, 'admin', 'GET', '/api/v1/clusters/c1/admin/audit?limit=3');
    expect(first.statusCode).toBe(200);
    const page1 = first.json() as { items: AuditEvent[]; nextBefore: string | null };
    expect(page1.items.map((e) => e.details.n)).toEqual([7, 5, 4]);
    expect(page1.items[0]).toMatchObject({ action: 'login', actorUserId: 'u-member', outcome: 'success' });
    const second = await callAs(
      fx.app,
      'admin',
      'GET',
      `/api/v1/clusters/c1/admin/audit?limit=3&before=${encodeURIComponent(page1.nextBefore as string)}`,
    );
    const page2 = second.json() as { items: AuditEvent[]; nextBefore: string | null };
    expect(page2.items.map((e) => e.details.n)).toEqual([3, 2, 1]);
    const third = await callAs(
      fx.app,
      'admin',
      'GET',
      `/api/v1/clusters/c1/admin/audit?limit=3&before=${encodeURIComponent(page2.nextBefore as string)}`,
    );
    expect(third.json()).toEqual({ items: [], nextBefore: null });
  });

  it('exports the whole log as JSON lines, one event per line', async () => {
    for (let n = 1; n <= 3; n++) await add(fx.store, n);
    const res = await callAs(fx.app, 'admin', 'GET', '/api/v1/clusters/c1/admin/audit.jsonl');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="audit-alpha-2030-02-01.jsonl"');
    const lines = res.body.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => (JSON.parse(l) as AuditEvent).details.n)).toEqual([3, 2, 1]);
  });

  it('exports an empty log as an empty body', async () => {
    const res = await callAs(fx.app, 'admin', 'GET', '/api/v1/clusters/c2/admin/audit.jsonl');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });

  it('refuses a bad limit or cursor, naming the field', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['before=yesterday', 'before'],
    ]) {
      const res = await callAs(fx.app, 'admin', 'GET', `/api/v1/clusters/c1/admin/audit?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.field).toBe(field);
    }
  });

  it('round-trips cursors and defaults the limit', () => {
    const cursor = encodeCursor({ at: '2030-01-01T00:00:00.000Z', id: 'a1b2-c3' });
    expect(parseCursor(cursor)).toEqual({ at: '2030-01-01T00:00:00.000Z', id: 'a1b2-c3' });
    expect(parseCursor(undefined)).toBeUndefined();
    expect(parseLimit(undefined)).toBe(100);
    expect(parseLimit('500')).toBe(500);
  });
});
