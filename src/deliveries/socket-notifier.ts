/**
 * Tells a WebSocket session that results of one of its tasks are stored. The session's object
 * renders and pushes them (or keeps them for a resumed connection), and pushes each only once,
 * so telling it twice — a repair after a crash, a duplicate webhook — is harmless.
 */
import { log } from '../lib/log'
import type { ResultRecord, TaskRecord } from '../schemas/records'

export class SocketNotifier {
  constructor(private readonly sessions: Env['SOCKETS']) {}

  async notify(task: TaskRecord, results: readonly ResultRecord[]): Promise<void> {
    if (!task.socket || !results.length) return
    const session = this.sessions.get(this.sessions.idFromName(task.socket))
    try {
      await session.deliver(
        task.tenant,
        task.taskUUID,
        results.map((r) => r.index),
        task.children.length,
      )
    } catch (error) {
      // The results are stored either way: getResponse, the task resource and webhooks still have them.
      log('error', 'socket push failed', { taskUUID: task.taskUUID, error: String(error) })
    }
  }
}
