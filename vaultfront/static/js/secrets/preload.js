// Starts the grid's one API call at once, while the browser is still compiling the grid
// library (about 400 ms on a slow machine); the grid picks the answer up.
//
// secrets.html loads this module by itself, before the grid library, so it runs first.
// The grid's module imports it too and gets the same instance (a module runs once per
// page), so the request is made once. It imports nothing on purpose: a module runs only
// after all its imports have arrived, and each level of imports costs a round trip. So
// the request is spelled out here: the same as api.js's `request("GET", secretsPath)`.

const page = document.getElementById("secrets-page");

let pending = fetch("/api/orgs/" + encodeURIComponent(page.dataset.org) + "/secrets", {
  method: "GET",
  credentials: "same-origin",
  cache: "no-store",
  headers: { Accept: "application/json" },
});

/** The early request's promise, the first time; null after (a later load asks anew). */
export function takeRowsRequest() {
  const taken = pending;
  pending = null;
  return taken;
}
