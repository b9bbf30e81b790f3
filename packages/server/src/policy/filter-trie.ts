/**
 * A trie of allowed MQTT topic filters (one device's, expanded), answering "is this requested
 * filter a subset of one allowed filter?": every topic the request could match must be
 * matched by that one allowed filter (MQTT 3.1.1 §4.7.1 semantics). Built once at connect
 * time; a query walks the request's levels, branching only where the trie holds both a
 * literal and a `+` at the same depth, so its cost is bounded by the levels and the
 * (device-local, small) trie, never by the fleet.
 */
export class FilterTrie<T> {
  readonly #root = new TrieNode<T>();

  /** Adds an allowed filter given as its levels (`["devices", "d1", "config", "#"]`). */
  insert(levels: readonly string[], value: T): void {
    let node = this.#root;
    for (const level of levels) {
      if (level === "#") {
        node.hash ??= value;
        return;
      }
      if (level === "+") {
        node.plus ??= new TrieNode<T>();
        node = node.plus;
      } else {
        let next = node.literal.get(level);
        if (next === undefined) {
          next = new TrieNode<T>();
          node.literal.set(level, next);
        }
        node = next;
      }
    }
    node.end ??= value;
  }

  /** The value of an allowed filter that covers the requested filter, or `undefined`. */
  covering(levels: readonly string[]): T | undefined {
    return cover(this.#root, levels, 0);
  }
}

class TrieNode<T> {
  readonly literal = new Map<string, TrieNode<T>>();
  plus: TrieNode<T> | undefined = undefined;
  /** An allowed `<path to here>/#`: it also matches the parent level itself [MQTT-4.7.1-2]. */
  hash: T | undefined = undefined;
  /** An allowed filter ending exactly here. */
  end: T | undefined = undefined;
}

function cover<T>(node: TrieNode<T>, levels: readonly string[], index: number): T | undefined {
  if (node.hash !== undefined) return node.hash;
  if (index === levels.length) return node.end;
  const level = levels[index] as string;
  // A requested `#` here matches this level's parent and every level below: only an allowed
  // `#` at this same depth (checked above) covers it.
  if (level === "#") return undefined;
  if (level !== "+") {
    const next = node.literal.get(level);
    const found = next === undefined ? undefined : cover(next, levels, index + 1);
    if (found !== undefined) return found;
  }
  // A requested `+` matches any one level, which only an allowed `+` covers.
  return node.plus === undefined ? undefined : cover(node.plus, levels, index + 1);
}
