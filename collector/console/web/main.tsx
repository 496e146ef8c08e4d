// SPDX-License-Identifier: Apache-2.0
/**
 * The web console's entry: mounts the app on #app (the page collector/console/static.ts serves).
 * A `#token=…` fragment (scripted use) is taken out of the address bar before anything else runs,
 * then exchanged for a session cookie; the token is never kept by the page.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./styles.css";
import { getSession, login, logout, type Role } from "./api.js";
import { Console } from "./console.js";
import { ForwardersView } from "./forwarders-view.js";
import { Login, loginError } from "./login.js";
import { type Page, pageOf } from "./nav.js";

/** The token of a `#token=…` fragment, removed from the address bar at once (history.replaceState). */
function takeFragmentToken(): string | undefined {
  const h = location.hash;
  if (!h.startsWith("#token=")) return undefined;
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  try {
    const t = decodeURIComponent(h.slice("#token=".length));
    return t === "" ? undefined : t;
  } catch {
    return undefined;
  }
}

const fragmentToken = takeFragmentToken();

/** The alerts page's query string when another page was opened from it. */
let alertsSearch = "";

type Session = { state: "checking" } | { state: "out"; error?: string } | { state: "in"; role: Role };

function App() {
  const [session, setSession] = useState<Session>({ state: "checking" });
  useEffect(() => {
    const start = fragmentToken !== undefined ? login(fragmentToken) : getSession();
    start.then(
      (role) => setSession(role === undefined ? { state: "out" } : { state: "in", role }),
      (err: unknown) => setSession({ state: "out", error: fragmentToken !== undefined ? loginError(err) : `Cannot reach the collector: ${String(err)}` }),
    );
  }, []);
  const [page, setPage] = useState<Page>(() => pageOf(location.search));
  useEffect(() => {
    const onPop = () => setPage(pageOf(location.search));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  if (session.state === "checking") return <p class="muted center">Connecting to the collector…</p>;
  if (session.state === "out") return <Login error={session.error} onLogin={(role) => setSession({ state: "in", role })} />;
  const common = {
    role: session.role,
    onPage: (p: Page) => {
      // back to the alerts: the view left there (filters and all)
      if (page === "alerts") alertsSearch = location.search;
      history.pushState(null, "", `${location.pathname}${p === "forwarders" ? "?page=forwarders" : alertsSearch}`);
      setPage(p);
    },
    onUnauthorized: () => setSession({ state: "out", error: "Your session ended: sign in again." }),
    onLogout: () => {
      logout().then(
        () => setSession({ state: "out" }),
        (err: unknown) => setSession({ state: "out", error: `Logout failed on the collector: ${String(err)}` }),
      );
    },
  };
  return page === "forwarders" ? <ForwardersView {...common} /> : <Console {...common} />;
}

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
