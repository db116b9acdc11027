/** Row type of migration 0010_login_throttle; listed in schema.ts's Database. */

/** Login attempts of one (account, source) key since its last successful login. */
export interface LoginThrottleTable {
  /** Hex SHA-256 of domain, username and client address. */
  key: string;
  /** Attempts reserved (each before its password check) since the last success or reset. */
  attempts: number;
  /** No new attempt may start before this time. */
  next_at: string;
  /** When the last attempt was reserved; rows idle long enough are forgotten. */
  last_at: string;
}
