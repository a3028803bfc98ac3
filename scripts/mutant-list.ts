/**
 * The curated mutants `npm run mutants` applies (scripts/mutants.ts): each a one-line change to
 * a line that keeps a promise about money or safety, with the test files that must kill it. A
 * new promise adds its mutant here (CONTRIBUTING.md). A mutant that cannot change behaviour is
 * kept with `equivalent` saying why, so a survivor always has a written reason.
 */
export type Module = 'money' | 'signing' | 'url-safety' | 'recorder' | 'webhooks' | 'idempotency'

export interface Mutant {
  module: Module
  name: string
  file: string
  /** Text that occurs exactly once in `file`, and what replaces it. */
  from: string
  to: string
  /** The test files that guard the line: workers-level ones run under `--project workers`. */
  tests: string[]
  /** Why the mutant changes nothing a user could see, when that is so. */
  equivalent?: string
}

const ACCOUNT = [
  'test/workers/tenant/tenant-account.test.ts',
  'test/workers/tenant/key-budgets.test.ts',
  'test/workers/tenant/tenants.test.ts',
]
const SHARD = ['test/workers/tenant/task-shard.test.ts', 'test/workers/tenant/owed.test.ts', 'test/workers/tasks/runware-webhooks.test.ts']
const SIGNATURES = [
  'test/workers/hostile/signatures.test.ts',
  'test/workers/images/files.test.ts',
  'test/workers/tasks/runware-webhooks.test.ts',
]
const SSRF = ['test/workers/hostile/ssrf.test.ts']
const HOOKS = ['test/workers/tasks/runware-webhooks.test.ts', 'test/workers/hostile/signatures.test.ts']
const IDEMPOTENCY = [
  'test/workers/protocol/echo.test.ts',
  'test/workers/tasks/concurrency.test.ts',
  'test/workers/hostile/deletion.test.ts',
]

/**
 * Each module's source files, which `npm run stryker` mutates whole (scripts/stryker.ts), and the
 * workers-level test files that guard them. The curated mutants below live in these files too,
 * except a few guarded lines elsewhere (the shard's usage, the Runware client, the task view).
 */
export const MODULES: Record<Module, { files: string[]; tests: string[] }> = {
  money: {
    files: ['src/tenant/spend.ts', 'src/tenant/tenant-account.ts', 'src/tenant/budget-alerts.ts'],
    tests: [
      ...ACCOUNT,
      'test/workers/tenant/task-shard.test.ts',
      'test/workers/tenant/owed.test.ts',
      'test/workers/tenant/migrations.test.ts',
      'test/workers/hostile/money.test.ts',
      'test/workers/hostile/keys.test.ts',
      'test/workers/tenant/account-alerts.test.ts',
      'test/workers/tenant/spend.test.ts',
    ],
  },
  signing: {
    files: ['src/images/url-signer.ts', 'src/deliveries/standard-webhooks.ts', 'src/lib/crypto.ts'],
    tests: [
      ...SIGNATURES,
      'test/workers/images/url-signer.test.ts',
      'test/workers/deliveries/standard-webhooks.test.ts',
      'test/workers/images/uploads.test.ts',
    ],
  },
  'url-safety': { files: ['src/lib/url-safety.ts'], tests: [...SSRF, 'test/workers/lib/lib.test.ts'] },
  recorder: {
    files: ['src/tasks/result-recorder.ts'],
    // The recorder is every channel's way in, so every channel's tests guard it.
    tests: [
      'test/workers/tasks/runware-webhooks.test.ts',
      'test/workers/tasks/reconcile.test.ts',
      'test/workers/tasks/sync-wait.test.ts',
      'test/workers/tasks/lagging-kv.test.ts',
      'test/workers/sockets/sockets.test.ts',
      'test/workers/protocol/echo.test.ts',
      'test/workers/hostile/deletion.test.ts',
      'test/workers/hostile/files.test.ts',
      'test/workers/images/presigned-dispatch.test.ts',
      'test/workers/deliveries/client-webhooks.test.ts',
    ],
  },
  webhooks: {
    files: ['src/routes/webhooks.ts', 'src/routes/uploads.ts'],
    tests: [
      ...HOOKS,
      'test/workers/images/uploads.test.ts',
      'test/workers/hostile/deletion.test.ts',
      'test/workers/tasks/sync-wait.test.ts',
    ],
  },
  idempotency: { files: ['src/tasks/idempotency.ts'], tests: [...IDEMPOTENCY, 'test/workers/sockets/sockets.test.ts'] },
}

export const MUTANTS: Mutant[] = [
  // Money: the account's budgets and the shards' usage.
  {
    module: 'money',
    name: 'a month budget counts only today',
    file: 'src/tenant/spend.ts',
    from: "export const periodStart = (period: 'day' | 'month', now: number) => (period === 'day' ? day(now) : `${day(now).slice(0, 7)}-01`)",
    to: "export const periodStart = (period: 'day' | 'month', now: number) => (period === 'day' ? day(now) : day(now))",
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: "usage records the estimate instead of Runware's reported cost",
    file: 'src/tenant/spend.ts',
    from: 'if (result.ok) return result.cost !== undefined ? toMicros(result.cost) : perResult',
    to: 'if (result.ok) return perResult',
    tests: SHARD,
  },
  {
    module: 'money',
    name: 'a failed result costs the estimate',
    file: 'src/tenant/spend.ts',
    from: 'return result.billed ? perResult : 0',
    to: 'return perResult',
    tests: [...SHARD, 'test/workers/tenant/tenants.test.ts'],
  },
  {
    module: 'money',
    name: 'a budget set after spend does not count it',
    file: 'src/tenant/tenant-client.ts',
    from: 'await account.setTenantBudget(budget, tenant, await this.untold(tenant, null, budget.budgetPeriod))\n    await flag(true)\n    await account.countUntold(await this.untold(tenant, null, budget.budgetPeriod))',
    to: 'await account.setTenantBudget(budget, tenant)\n    await flag(true)',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: "a key budget set after the key's spend does not count it",
    file: 'src/tenant/tenant-client.ts',
    from: "if (operation === 'update' && budgetChanged && done.record?.budgetUSD !== undefined)",
    to: 'if (false)',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: 'a shard no one told of a tenant budget takes it as none',
    file: 'src/tenant/budget-flag.ts',
    from: 'const on = await this.askAccount()',
    to: 'const on = false',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: 'a tenant budget reaches only the shards the tenant has today',
    file: 'src/tenant/tenant-client.ts',
    from: 'this.map.allShards(tenant, Infinity)',
    to: 'this.map.allShards(tenant)',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: 'spend the account settled is counted again as untold',
    file: 'src/tenant/task-shard.ts',
    from: 'const untold = !(row.flags & rows.FLAG.limited)',
    to: 'const untold = true',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: 'open reservations are not counted against a budget',
    file: 'src/tenant/spend.ts',
    from: 'if (spentMicros + reservedMicros + neededMicros <= budget.budgetMicros) continue',
    to: 'if (spentMicros + neededMicros <= budget.budgetMicros) continue',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: "a key's budget counts its whole tenant",
    file: 'src/tenant/spend.ts',
    from: "standing(sql, scope === 'key' ? key : null, periodStart(budget.budgetPeriod, now))",
    to: 'standing(sql, null, periodStart(budget.budgetPeriod, now))',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: "a key's in-flight cap counts its whole tenant",
    file: 'src/tenant/spend.ts',
    from: "'SELECT COUNT(*) AS v FROM reservations WHERE api_key = ?', key",
    to: "'SELECT COUNT(*) AS v FROM reservations WHERE ? IS NOT NULL', key",
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: 'a result is settled twice',
    file: 'src/tenant/tenant-account.ts',
    from: 'if (Math.floor(settled / bit) % 2 === 1) continue',
    to: 'if (Math.floor(settled / bit) % 2 === 2) continue',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: 'a tenant budget ignores keys without limits',
    file: 'src/tenant/task-shard.ts',
    from: 'const limited = hasLimits(limits) || (await this.budget.get())',
    to: 'const limited = hasLimits(limits)',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: 'a threshold alert is sent again',
    file: 'src/tenant/budget-alerts.ts',
    from: 'INSERT OR IGNORE INTO alerts_sent',
    to: 'INSERT OR REPLACE INTO alerts_sent',
    tests: ['test/workers/tenant/account-alerts.test.ts', 'test/workers/tenant/key-budgets.test.ts'],
  },
  {
    module: 'money',
    name: 'a running task can be deleted (and its spend escape the budget)',
    file: 'src/tasks/task-view.ts',
    from: 'if (results.length < task.children.length) {\n      throw new ApiError(',
    to: 'if (results.length < 0) {\n      throw new ApiError(',
    tests: ['test/workers/hostile/money.test.ts'],
  },

  // Signing: signed URLs, webhook tokens, client webhook signatures.
  {
    module: 'signing',
    name: 'expired image URLs still work',
    file: 'src/images/url-signer.ts',
    from: 'if (Number(exp) * 1000 < now) throw refusal(purpose, true)',
    to: 'if (Number(exp) * 1000 < 0) throw refusal(purpose, true)',
    tests: SIGNATURES,
  },
  {
    module: 'signing',
    name: 'an upload URL is checked as an image URL',
    file: 'src/images/url-signer.ts',
    from: 'if (!(await this.verify(purpose, `${key}\\n${exp}`, sig))) throw refusal(purpose, false)',
    to: "if (!(await this.verify('files', `${key}\\n${exp}`, sig))) throw refusal(purpose, false)",
    tests: SIGNATURES,
  },
  {
    module: 'signing',
    name: "Runware's webhook token is not checked",
    file: 'src/routes/webhooks.ts',
    from: "if (!(await signer.checkRunwareWebhook(`${tenant}/${taskUUID}/${result}`, c.req.query('token')))) throw forged()",
    to: "if (!(await signer.checkRunwareWebhook(`${tenant}/${taskUUID}/${result}`, c.req.query('token'))) && false) throw forged()",
    tests: HOOKS,
  },
  {
    module: 'signing',
    name: 'client webhook signatures leave out the event id',
    file: 'src/deliveries/standard-webhooks.ts',
    from: 'utf8(`${id}.${timestamp}.${body}`)',
    to: 'utf8(`.${timestamp}.${body}`)',
    tests: ['test/workers/deliveries/client-webhooks.test.ts'],
  },

  // URL safety: what the gateway will call on a client's behalf.
  {
    module: 'url-safety',
    name: 'IPv4-mapped IPv6 addresses are not checked',
    file: 'src/lib/url-safety.ts',
    from: "if (address.range() !== 'unicast') return false",
    to: "if (address.range() !== 'unicast' && address.range() !== 'ipv4Mapped') return false",
    tests: SSRF,
  },
  {
    module: 'url-safety',
    name: 'credentials in a URL are allowed',
    file: 'src/lib/url-safety.ts',
    from: "if (url.username || url.password) return 'must not carry credentials'",
    to: "if (url.username && url.password && false) return 'must not carry credentials'",
    tests: SSRF,
  },
  {
    module: 'url-safety',
    name: 'http allowed for any host',
    file: 'src/lib/url-safety.ts',
    from: "if (!local) return 'must use https'",
    to: 'if (!local) return null',
    tests: SSRF,
  },
  {
    module: 'url-safety',
    name: 'IPv4-compatible IPv6 addresses pass',
    file: 'src/lib/url-safety.ts',
    from: 'return !(address.kind() ===',
    to: 'return true || !(address.kind() ===',
    tests: SSRF,
  },

  // The result recorder: what is stored, from where, and for which task.
  {
    module: 'recorder',
    name: 'images are copied from any host an upstream answer names',
    file: 'src/upstream/runware-client.ts',
    from: 'url.host === upstream.host ||',
    to: 'true ||',
    tests: ['test/workers/tasks/runware-webhooks.test.ts'],
  },
  {
    module: 'recorder',
    name: "PUT /uploads is accepted for a deleted task's URL",
    file: 'src/routes/uploads.ts',
    from: 'if (!task || task.deleted) throw',
    to: 'if (!task) throw',
    tests: ['test/workers/images/uploads.test.ts', 'test/workers/hostile/deletion.test.ts'],
  },
  {
    module: 'recorder',
    name: "PUT /uploads stores an image of another format under the key's name",
    file: 'src/routes/uploads.ts',
    from: 'maxBytes, task.outputFormat)',
    to: 'maxBytes)',
    tests: ['test/workers/images/uploads.test.ts'],
  },
  {
    module: 'recorder',
    name: 'a copy is made into a task that is gone',
    file: 'src/tasks/result-recorder.ts',
    from: 'if (!state || state.task.deleted) return false',
    to: 'if (!state) return false',
    tests: ['test/workers/tasks/runware-webhooks.test.ts', 'test/workers/hostile/deletion.test.ts'],
  },
  {
    module: 'recorder',
    name: 'an upload that is not the image its key names is counted',
    file: 'src/tasks/result-recorder.ts',
    from: 'if (format === ref.outputFormat) return true',
    to: 'if (format !== null) return true',
    tests: ['test/workers/hostile/files.test.ts', 'test/workers/images/presigned-dispatch.test.ts'],
  },

  // Runware's webhooks.
  {
    module: 'webhooks',
    name: 'a conflictTaskUUID error on a webhook is recorded as a failure',
    file: 'src/routes/webhooks.ts',
    from: " && e.code !== 'conflictTaskUUID')",
    to: ')',
    tests: HOOKS,
  },
  {
    module: 'webhooks',
    name: "a webhook's item for another child is recorded",
    file: 'src/routes/webhooks.ts',
    from: '...body.items.filter((item) => item.taskUUID === child)',
    to: '...body.items.filter(() => true)',
    tests: HOOKS,
  },
  {
    module: 'webhooks',
    name: 'a webhook whose image is not stored is acknowledged',
    file: 'src/routes/webhooks.ts',
    from: 'if (outcome.pending.length) {',
    to: 'if (outcome.pending.length < 0) {',
    tests: HOOKS,
  },

  // Idempotency: a taskUUID is one generation.
  {
    module: 'idempotency',
    name: 'a re-used taskUUID with another body is accepted',
    file: 'src/tasks/idempotency.ts',
    from: 'if (!task.deleted && task.requestHash === attempt.requestHash) return null',
    to: 'if (!task.deleted) return null',
    tests: IDEMPOTENCY,
  },
  {
    module: 'idempotency',
    name: "a deleted task's taskUUID starts a new generation",
    file: 'src/tasks/idempotency.ts',
    from: 'if (!task.deleted && task.requestHash === attempt.requestHash) return null',
    to: 'if (task.requestHash === attempt.requestHash) return null',
    tests: IDEMPOTENCY,
  },
  {
    module: 'idempotency',
    name: 'a conflicting re-send is answered as the task it conflicts with',
    file: 'src/tasks/generation.ts',
    from: 'if (conflict) return { items: [], errors: [conflict] }',
    to: 'if (conflict && pushed) return { items: [], errors: [conflict] }',
    tests: IDEMPOTENCY,
  },
  {
    module: 'idempotency',
    name: 'a result is recorded twice',
    file: 'src/tenant/task-shard.ts',
    from: "'INSERT OR IGNORE INTO results (task, idx, image, image_as, seed, cost, nsfw, at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'",
    to: "'INSERT OR REPLACE INTO results (task, idx, image, image_as, seed, cost, nsfw, at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'",
    tests: [...SHARD, 'test/workers/tasks/concurrency.test.ts'],
  },
  // The other direction of lines whose equivalent mutant carries a Stryker disable comment.
  {
    module: 'money',
    name: 'the in-flight cap is never checked',
    file: 'src/tenant/spend.ts',
    from: 'limits.maxConcurrentTasks !== undefined &&',
    to: 'false &&',
    tests: ACCOUNT,
  },
  {
    module: 'money',
    name: "a key's budget is never stored, for its alerts and the usage page",
    file: 'src/tenant/tenant-account.ts',
    from: 'if (limits.keyId) this.putBudget',
    to: 'if (false) this.putBudget',
    tests: [...ACCOUNT, 'test/workers/tenant/account-alerts.test.ts'],
  },
  {
    module: 'signing',
    name: 'every Runware webhook token is refused',
    file: 'src/images/url-signer.ts',
    from: 'if (!token) return false',
    to: 'if (true) return false',
    tests: HOOKS,
  },
  {
    module: 'webhooks',
    name: 'every result format is refused',
    file: 'src/routes/webhooks.ts',
    from: 'if (!outputFormat) throw forged()',
    to: 'if (true) throw forged()',
    tests: HOOKS,
  },
  {
    module: 'recorder',
    name: 'an r2-presigned upload is counted unchecked',
    file: 'src/tasks/result-recorder.ts',
    from: 'if (!verifyUploads) return (await images.head(objectKey)) !== null',
    to: 'if (true) return (await images.head(objectKey)) !== null',
    tests: ['test/workers/hostile/files.test.ts'],
  },
  {
    module: 'recorder',
    name: 'an object that is not the image its key names stays in the bucket',
    file: 'src/tasks/result-recorder.ts',
    from: 'if (format !== null) await images.delete(objectKey)',
    to: 'if (false) await images.delete(objectKey)',
    tests: ['test/workers/hostile/files.test.ts'],
  },
]
