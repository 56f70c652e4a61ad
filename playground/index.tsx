// The playground page: GraphiQL 5 on this server's own /graphql, every asset (monaco workers, CSS, fonts)
// bundled by scripts/build-playground.ts and served by the server itself, so it works offline.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './playground.css';
import { EXAMPLE_TABS } from './operations';
import { playgroundStorage } from './storage';

/** Worker bundle file names (hashed), set by the build script; they sit beside this bundle. */
declare const PLAYGROUND_WORKERS: { readonly editor: string; readonly json: string; readonly graphql: string };

const worker = (file: string): Worker => new Worker(new URL(file, import.meta.url), { name: file });

// Monaco asks for a worker by label: 'json' (variables, headers, response), 'graphql' (the operation editor),
// anything else its generic editor worker.
(globalThis as { MonacoEnvironment?: { getWorker(workerId: string, label: string): Worker } }).MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    if (label === 'json') return worker(PLAYGROUND_WORKERS.json);
    if (label === 'graphql') return worker(PLAYGROUND_WORKERS.graphql);
    return worker(PLAYGROUND_WORKERS.editor);
  },
};

// The page is served at the GraphQL endpoint itself, so that is where operations go.
const fetcher = createGraphiQLFetcher({
  url: `${window.location.origin}${window.location.pathname}`,
  enableIncrementalDelivery: false,
});

// Tabs, variables, headers and history live in this page's memory only (they hold passwords and tokens), so every
// visit starts from the example tabs. GraphiQL 5.4 opens the first default tab with its query but empty variables
// and headers editors: hand it that tab's own.
const storage = playgroundStorage();
const [first] = EXAMPLE_TABS;

createRoot(document.getElementById('playground')!).render(
  <GraphiQL
    fetcher={fetcher}
    defaultTabs={EXAMPLE_TABS.map((tab) => ({ ...tab }))}
    initialVariables={first?.variables}
    initialHeaders={first?.headers}
    defaultEditorToolsVisibility="variables"
    isHeadersEditorEnabled
    shouldPersistHeaders={false}
    storage={storage}
  >
    <GraphiQL.Logo>Portcullis</GraphiQL.Logo>
  </GraphiQL>,
);
