/** Small helpers for Durable Objects' SQLite. */

/** Whether a statement runs: how an object learns which tables and columns an older version of it made. */
export function runs(sql: SqlStorage, query: string): boolean {
  try {
    sql.exec(query)
    return true
  } catch {
    return false
  }
}
