// Field paths as the API names them (errors[].loc): "frontends[0].clients[1].rate".

/** The path's keys: "a[0].b" → ["a", 0, "b"]. */
export function keys(loc) {
  return loc.split(/\.|(?=\[)/).map((k) => (k.startsWith("[") ? Number(k.slice(1, -1)) : k));
}

/** The value at loc in obj (undefined when a step is missing). */
export function getPath(obj, loc) {
  return keys(loc).reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** Set the value at loc in obj, making missing objects on the way. */
export function setPath(obj, loc, value) {
  const ks = keys(loc);
  let o = obj;
  for (const k of ks.slice(0, -1)) {
    if (o[k] == null) o[k] = {};
    o = o[k];
  }
  o[ks[ks.length - 1]] = value;
}
