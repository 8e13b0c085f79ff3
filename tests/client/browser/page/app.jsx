// The browser test's page: three components on overlapping topics, one
// stream. Orders (TanStack Query) listens to `orders`; Users (SWR) to
// `users` and `orders`; Import (useProgress + useSSE) to `import` and `users`.
// Every API answer is {path, n}: n counts the server's answers for that path.
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider, useQuery, useQueryClient } from '@tanstack/react-query';
import useSWR, { SWRConfig, useSWRConfig } from 'swr';
import { getHub } from '@ssehub/client';
import { SSEProvider, useSSE, useSSEInvalidation, useProgress, tanstackQueryAdapter, swrAdapter } from '@ssehub/client/react';

const hubUrl = `${new URLSearchParams(location.search).get('hub')}/events`;
const hub = getHub(hubUrl, { onError: (e) => console.error(`ssehub: ${e}`) });
window.hub = hub;
window.renders = { progress: 0 };

const getJSON = async (path) => {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
};
const shown = (data) => (data ? String(data.n) : '…');

function OrderRow({ id }) {
  const { data } = useQuery({ queryKey: ['orders', id], queryFn: () => getJSON(`/api/orders/${id}`) });
  return <li id={`order-${id}`}>{shown(data)}</li>;
}

function Orders() {
  useSSEInvalidation(['orders'], tanstackQueryAdapter(useQueryClient()));
  const { data } = useQuery({ queryKey: ['orders'], queryFn: () => getJSON('/api/orders') });
  return (
    <section>
      <h2>Orders <span id="orders">{shown(data)}</span></h2>
      <ul><OrderRow id="7" /><OrderRow id="8" /></ul>
    </section>
  );
}

function Users() {
  const { mutate } = useSWRConfig();
  useSSEInvalidation(['users', 'orders'], swrAdapter(mutate));
  const list = useSWR('/api/users', getJSON);
  const one = useSWR('/api/users/1', getJSON);
  const two = useSWR('/api/users/2', getJSON);
  return (
    <section>
      <h2>Users <span id="users">{shown(list.data)}</span></h2>
      <ul><li id="user-1">{shown(one.data)}</li><li id="user-2">{shown(two.data)}</li></ul>
    </section>
  );
}

function Import() {
  const progress = useProgress('import', 'imp_1');
  const [completes, setCompletes] = useState(0);
  const { status } = useSSE(['import', 'users'], { complete: () => setCompletes((n) => n + 1) });
  window.renders.progress++;
  window.progress = progress;
  return (
    <section>
      <h2>Import <span id="pct">{progress ? progress.pct : '-'}</span>%</h2>
      <progress max="100" value={progress ? progress.pct : 0} />
      <p>stream <span id="status">{status}</span> · completes <span id="completes">{completes}</span></p>
    </section>
  );
}

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: Infinity, refetchOnWindowFocus: false, refetchOnReconnect: false, retry: false } },
});

createRoot(document.getElementById('root')).render(
  <SSEProvider hub={hub}>
    <QueryClientProvider client={queryClient}>
      <SWRConfig value={{ revalidateOnFocus: false, revalidateOnReconnect: false, shouldRetryOnError: false }}>
        <Orders />
        <Users />
        <Import />
      </SWRConfig>
    </QueryClientProvider>
  </SSEProvider>,
);
