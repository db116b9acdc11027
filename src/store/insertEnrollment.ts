import type { Db } from './db.ts';
import type { EnrollmentsTable } from './enrollmentSchema.ts';

/** Stores a node's enrollment, dropping expired ones (nodes that never booted) on the way. */
export async function insertEnrollment({
  db,
  enrollment,
}: {
  db: Db;
  enrollment: EnrollmentsTable;
}): Promise<void> {
  await db.deleteFrom('enrollments').where('expires_at', '<=', enrollment.created_at).execute();
  await db.insertInto('enrollments').values(enrollment).execute();
}
