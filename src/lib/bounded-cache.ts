import { memo } from './memo'

/**
 * An isolate-level cache of computed values by string key, bounded in size. When full it starts
 * over rather than tracking recency: the hot keys (a client's API key, a polled task's image)
 * come back at once, and the bookkeeping costs nothing on the hot path.
 */
export class BoundedCache<T> {
  readonly #values = new Map<string, T>()
  constructor(private readonly limit: number) {}

  get(key: string, compute: () => T): T {
    return memo(this.#values, key, () => {
      // Full: start over before adding the new value.
      if (this.#values.size >= this.limit) this.#values.clear()
      return compute()
    })
  }
}
