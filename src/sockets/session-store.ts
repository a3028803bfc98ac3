/**
 * What a SocketSession object keeps in its SQLite storage (docs/storage.md): the session it
 * holds, that session's tasks, and for each stored result whether it was pushed. Every method is
 * synchronous SQL, so none of them can interleave with another event of the object.
 */

/** What one object hands another when a client resumes the session there. */
export interface SessionState {
  tasks: { task: string; total: number; done_at: number | null }[]
  results: { task: string; idx: number; sent: number }[]
}

/** `results.sent`: waiting for a socket, being pushed right now, pushed. */
const DUE = 0
const SENT = 1
const SENDING = 2

export class SessionStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tasks (task TEXT PRIMARY KEY, total INTEGER NOT NULL, done_at INTEGER);
      CREATE TABLE IF NOT EXISTS results (task TEXT NOT NULL, idx INTEGER NOT NULL, sent INTEGER NOT NULL, PRIMARY KEY (task, idx));
    `)
  }

  get(k: string): string | null {
    return this.sql.exec<{ v: string }>('SELECT v FROM meta WHERE k = ?', k).toArray()[0]?.v ?? null
  }

  set(k: string, v: string): void {
    this.sql.exec('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', k, v)
  }

  delete(k: string): void {
    this.sql.exec('DELETE FROM meta WHERE k = ?', k)
  }

  /** Forgets everything but the object's own name. */
  wipe(): void {
    const self = this.get('self')
    this.sql.exec('DELETE FROM meta; DELETE FROM tasks; DELETE FROM results;')
    if (self) this.set('self', self)
  }

  /** The session's tasks and results, for another object; a result being pushed right now counts as due. */
  export(): SessionState {
    return {
      tasks: this.sql.exec<SessionState['tasks'][number]>('SELECT task, total, done_at FROM tasks').toArray(),
      results: this.sql
        .exec<SessionState['results'][number]>(`SELECT task, idx, CASE sent WHEN ${SENT} THEN ${SENT} ELSE ${DUE} END AS sent FROM results`)
        .toArray(),
    }
  }

  import(state: SessionState): void {
    for (const t of state.tasks)
      this.sql.exec('INSERT OR IGNORE INTO tasks (task, total, done_at) VALUES (?, ?, ?)', t.task, t.total, t.done_at)
    for (const r of state.results) this.sql.exec('INSERT OR IGNORE INTO results (task, idx, sent) VALUES (?, ?, ?)', r.task, r.idx, r.sent)
  }

  /** Takes an in-flight slot for a new task; false when the task has one already. */
  claim(task: string, total: number): boolean {
    return this.sql.exec('INSERT OR IGNORE INTO tasks (task, total) VALUES (?, ?)', task, total).rowsWritten > 0
  }

  /** Gives a task's slot back, unless results of it have arrived meanwhile. */
  release(task: string): void {
    if (this.sql.exec('SELECT 1 FROM results WHERE task = ?', task).toArray().length) return
    this.sql.exec('DELETE FROM tasks WHERE task = ? AND done_at IS NULL', task)
  }

  inFlight(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM tasks WHERE done_at IS NULL').one().n
  }

  /** Results of a task were stored; a result already known (due or pushed) stays as it is. */
  add(task: string, indexes: readonly number[], total: number): void {
    this.sql.exec('INSERT INTO tasks (task, total) VALUES (?, ?) ON CONFLICT (task) DO UPDATE SET total = excluded.total', task, total)
    for (const idx of indexes) this.sql.exec(`INSERT OR IGNORE INTO results (task, idx, sent) VALUES (?, ?, ${DUE})`, task, idx)
  }

  /** The due results, marked as being pushed, so a concurrent push cannot take them too. */
  takeDue(): { task: string; idx: number }[] {
    const due = this.sql.exec<{ task: string; idx: number }>(`SELECT task, idx FROM results WHERE sent = ${DUE}`).toArray()
    this.sql.exec(`UPDATE results SET sent = ${SENDING} WHERE sent = ${DUE}`)
    return due
  }

  /** After a push: pushed, or due again (the socket went away). */
  settle(task: string, idx: number, pushed: boolean): void {
    this.sql.exec('UPDATE results SET sent = ? WHERE task = ? AND idx = ?', pushed ? SENT : DUE, task, idx)
  }

  /** Marks the task done once all its results are pushed, and forgets tasks done before `forgetBefore`. */
  finish(task: string, now: number, forgetBefore: number): void {
    this.sql.exec(
      `UPDATE tasks SET done_at = ? WHERE task = ? AND done_at IS NULL AND total <= (SELECT COUNT(*) FROM results WHERE task = ? AND sent = ${SENT})`,
      now,
      task,
      task,
    )
    this.sql.exec('DELETE FROM results WHERE task IN (SELECT task FROM tasks WHERE done_at < ?)', forgetBefore)
    this.sql.exec('DELETE FROM tasks WHERE done_at < ?', forgetBefore)
  }
}
