/** Appends `value` to the list kept under `key` (in place: grouping n items stays O(n)). */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The first item under each key (a statement inserting duplicates stores the first of them). */
export function firstByKey<K, V>(items: Iterable<V>, keyOf: (item: V) => K): Map<K, V> {
  const map = new Map<K, V>();
  for (const item of items) {
    const key = keyOf(item);
    if (!map.has(key)) map.set(key, item);
  }
  return map;
}
