/** Row types of the provisioner's tables (migration 0003_jobs); listed in schema.ts's Database. */

/** A cluster kaas provisions: its current spec (JSON ClusterSpec) and lifecycle status. */
export interface ProvisionedClustersTable {
  id: string;
  name: string;
  spec: string;
  /** JSON ProvisionOptions (e.g. waitForApi, release source, whether kaas owns the keypair). */
  options: string;
  /** creating | ready | resizing | upgrading | healing | deleting | deleted | failed */
  status: string;
  created_at: string;
  updated_at: string;
}

/** A durable provisioning job; `lease_owner`/`lease_expires_at` say which engine runs it until when. */
export interface JobsTable {
  id: string;
  cluster_id: string;
  /** create | resize | upgrade | delete | heal */
  kind: string;
  /** queued | running | succeeded | failed | cancelled */
  state: string;
  /** JSON: the plan steps and whatever the job kind needs. */
  input: string;
  /** JSON { stepId?, code, message } of the last failure. */
  error: string | null;
  created_at: string;
  updated_at: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** How many times the job has been claimed (first run, takeovers, retries). */
  attempt: number;
}

/** One step of a job and its checkpoint (`output`: ids of the resources the step made). */
export interface JobStepsTable {
  job_id: string;
  step_id: string;
  /** Order in the plan, for stable listings. */
  position: number;
  /** pending | running | done | failed */
  state: string;
  output: string | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** How many times the step has been started. */
  runs: number;
}

/** A progress line of a job (step started/finished, waits, retries), shown by the API and CLI. */
export interface JobEventsTable {
  id: string;
  job_id: string;
  at: string;
  step_id: string | null;
  /** info | warn | error */
  level: string;
  message: string;
}
