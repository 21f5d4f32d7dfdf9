// The pages' one way to the server: JSON over fetch, with the session cookie, and the
// session's CSRF token (`<meta name="csrf-token">`) as X-CSRF-Token on every unsafe call.
// The secrets page calls /api/orgs/{org}/..., the tokens page /account/tokens.
//
// A call never rejects. It resolves to { status, data, error, headers }: `error` is null on
// success, else the server's { code, message, field }, or one made here when the answer
// carries none (status 0: the server could not be reached). Each page words those
// fallbacks itself, so that every message can be shown as it is. A 401 (the session
// expired) sends the browser to the login page.

import { metaContent } from "./dom.js";

/** Starts a request and returns fetch's promise (for a request made before the page's
 *  script runs: pass the promise to a client as `pending`). */
export function request(method, path, body, headers) {
  const init = {
    method: method,
    credentials: "same-origin",
    cache: "no-store",
    headers: Object.assign({ Accept: "application/json" }, headers || {}),
  };
  if (method !== "GET") init.headers["X-CSRF-Token"] = metaContent("csrf-token");
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

/**
 * A client for one page: `call(method, path, body, headers, pending)`.
 *
 * - serverError(status): the message for a failed answer without an error body;
 * - networkError: the message when the server cannot be reached;
 * - loginUrl: where a 401 sends the browser.
 */
export function createClient({ serverError, networkError, loginUrl }) {
  return function call(method, path, body, headers, pending) {
    return (pending || request(method, path, body, headers)).then(
      (response) => {
        const parse = response.status === 204 ? Promise.resolve(null) : response.json().catch(() => null);
        return parse.then((data) => {
          if (response.status === 401) window.location.assign(loginUrl);
          let error = null;
          if (!response.ok) {
            error = (data && data.error) || {
              code: "http_" + response.status,
              message: serverError(response.status),
              field: null,
            };
          }
          return { status: response.status, data: data, error: error, headers: response.headers };
        });
      },
      () => ({
        status: 0,
        data: null,
        headers: null,
        error: { code: "network", message: networkError, field: null },
      })
    );
  };
}
