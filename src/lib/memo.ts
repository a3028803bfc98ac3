/** What an isolate-level cache needs: a Map, or a WeakMap keyed by an object (a config, an env). */
interface Store<K, V> {
  get(key: K): V | undefined
  set(key: K, value: V): unknown
}

/**
 * The value under `key` in `cache`, computed on first use. For caches of a small, fixed set of
 * keys that live as long as the isolate; a cache of request-supplied keys needs BoundedCache.
 */
export function memo<K, V>(cache: Store<K, V>, key: K, compute: () => V): V {
  let value = cache.get(key)
  if (value === undefined) cache.set(key, (value = compute()))
  return value
}
