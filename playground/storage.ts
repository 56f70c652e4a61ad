// What GraphiQL may keep in the browser. It stores everything through one Storage (localStorage by default):
// tabs with their operations, variables and headers, the history (with variables), favourites. Variables and
// headers hold passwords, codes and tokens, so all of that lives in this page's memory only and is gone on
// reload; only layout and theme (which hold nothing typed) are kept in localStorage.
import type { Storage } from '@graphiql/toolkit';

/** GraphiQL's keys, under its `graphiql:` prefix, that may persist: pane sizes, theme, the open side panel. */
const PERSISTED = new Set(
  ['theme', 'editorFlex', 'secondaryEditorFlex', 'docExplorerFlex', 'visiblePlugin'].map((name) => `graphiql:${name}`),
);

function browserStorage(): globalThis.Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: keep even the layout in memory
  }
}

/** A Storage for GraphiQL's `storage` prop: layout in localStorage, everything else in memory. */
export function playgroundStorage(): Storage {
  const memory = new Map<string, string>();
  const local = browserStorage();
  // Earlier versions of this page left tabs, variables and headers in localStorage: remove them.
  if (local !== null) {
    for (const key of Object.keys(local)) {
      if (key.startsWith('graphiql:') && !PERSISTED.has(key)) local.removeItem(key);
    }
  }
  const persists = (key: string): boolean => local !== null && PERSISTED.has(key);
  return {
    getItem: (key) => (persists(key) ? local!.getItem(key) : (memory.get(key) ?? null)),
    setItem: (key, value) => (persists(key) ? local!.setItem(key, value) : void memory.set(key, value)),
    removeItem: (key) => (persists(key) ? local!.removeItem(key) : void memory.delete(key)),
    clear: () => {
      memory.clear();
      for (const key of PERSISTED) local?.removeItem(key);
    },
    get length() {
      return memory.size + [...PERSISTED].filter((key) => local?.getItem(key) != null).length;
    },
  };
}
