/**
 * A shard's word on whether its tenant has a budget of its own, so that every task reserves with
 * the account (not only those under a key's limits). The admin API tells every shard the tenant
 * has or is planned to have; a shard it never told (one a later growth of the default count
 * added) asks the account, once.
 */
import { setSetting, setting } from './shard-rows'

export class BudgetFlag {
  #on?: boolean

  constructor(
    private readonly sql: SqlStorage,
    private readonly askAccount: () => Promise<boolean>,
  ) {}

  async get(): Promise<boolean> {
    if (this.#on !== undefined) return this.#on
    if (this.told() === null) {
      const on = await this.askAccount()
      // The admin API may have told it meanwhile: its word stands.
      if (this.told() === null) setSetting(this.sql, 'budgeted', on)
    }
    return (this.#on = this.told() === true)
  }

  set(on: boolean): void {
    setSetting(this.sql, 'budgeted', on)
    this.#on = on
  }

  private told = () => setting(this.sql, 'budgeted')
}
