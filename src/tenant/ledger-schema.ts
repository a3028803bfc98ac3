/**
 * The tenant ledger object's SQLite tables, and the indexes its recurring work needs: the
 * alarm's retention prune reads tasks and images by creation time, and a deletion drops a
 * task's images by task. Without them each of those is a scan of the whole history.
 */
export const LEDGER_SCHEMA = `
  CREATE TABLE IF NOT EXISTS tasks (
    task TEXT PRIMARY KEY, record TEXT NOT NULL, created_at INTEGER NOT NULL,
    state TEXT NOT NULL, due_at INTEGER, finished_at INTEGER);
  CREATE INDEX IF NOT EXISTS tasks_due ON tasks (due_at) WHERE due_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created_at);
  CREATE TABLE IF NOT EXISTS results (task TEXT NOT NULL, idx INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (task, idx));
  CREATE TABLE IF NOT EXISTS reservations (task TEXT PRIMARY KEY, per_result INTEGER NOT NULL, open INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS images (uuid TEXT PRIMARY KEY, object_key TEXT NOT NULL, task TEXT, created_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS images_task ON images (task) WHERE task IS NOT NULL;
  CREATE INDEX IF NOT EXISTS images_created ON images (created_at);
  CREATE TABLE IF NOT EXISTS usage (day TEXT NOT NULL, model TEXT NOT NULL, images INTEGER NOT NULL, cost INTEGER NOT NULL, PRIMARY KEY (day, model));
`
