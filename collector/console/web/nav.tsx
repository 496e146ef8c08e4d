// SPDX-License-Identifier: Apache-2.0
/**
 * The console's pages and the links between them in the header. The page is a query parameter
 * (`?page=forwarders`; the alerts page has none), so the collector serves one document at `/` and
 * any page's URL can be shared and reloaded.
 */

/** The console's pages. */
export type Page = "alerts" | "forwarders";

/** The page a query string names (`alerts` when it names none, or one the console does not know). */
export function pageOf(search: string): Page {
  return new URLSearchParams(search).get("page") === "forwarders" ? "forwarders" : "alerts";
}

/** The header's page links; a plain click switches pages in place, a middle click opens a tab. */
export function PageNav(props: { page: Page; onPage(p: Page): void }) {
  const link = (p: Page, label: string, href: string) => (
    <a
      href={href}
      class="page-link"
      {...(props.page === p ? { "aria-current": "page" as const } : {})}
      onClick={(e) => {
        if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        if (props.page !== p) props.onPage(p);
      }}
    >
      {label}
    </a>
  );
  return (
    <nav class="pages" aria-label="Pages">
      {link("alerts", "Alerts", "/")}
      {link("forwarders", "Forwarders", "/?page=forwarders")}
    </nav>
  );
}
