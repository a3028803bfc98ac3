/**
 * The strings a shard's tasks repeat (model ids, origins) kept once each and named by id in
 * every row, and the shard's tenant, under id 0, set by its first task.
 */
export class ShardNames {
  private readonly cache = new Map<number, string>()
  private readonly ids = new Map<string, number>()

  constructor(private readonly sql: SqlStorage) {}

  get tenant(): string {
    return this.text(0)
  }

  claimTenant(tenant: string): void {
    if (this.cache.has(0)) return
    this.sql.exec('INSERT OR IGNORE INTO names (id, text) VALUES (0, ?)', tenant)
    this.text(0)
  }

  id(text: string): number {
    let id = this.ids.get(text)
    if (id === undefined) {
      const found = this.sql.exec<{ id: number }>('SELECT id FROM names WHERE text = ?', text).toArray()[0]
      id = found?.id ?? this.sql.exec<{ id: number }>('INSERT INTO names (text) VALUES (?) RETURNING id', text).one().id
      this.ids.set(text, id)
    }
    return id
  }

  text(id: number): string {
    let text = this.cache.get(id)
    if (text === undefined) {
      text = this.sql.exec<{ text: string }>('SELECT text FROM names WHERE id = ?', id).toArray()[0]?.text ?? ''
      if (text) this.cache.set(id, text)
    }
    return text
  }
}
