// What every part of the secrets page shares: what the template says about the viewer
// (data- attributes on #secrets-page), the API paths, the page's API client, and the
// state of the drawer.

import { createClient } from "../api.js";

const root = document.getElementById("secrets-page");

export const org = root.dataset.org;
export const canCreate = root.dataset.canCreate === "true";
export const canTransfer = root.dataset.canTransfer === "true"; // admin: may change a secret's owner

export const secretsPath = "/api/orgs/" + encodeURIComponent(org) + "/secrets";
export const membersPath = "/api/orgs/" + encodeURIComponent(org) + "/members";

export function secretPath(id) {
  return secretsPath + "/" + encodeURIComponent(id);
}

export const api = createClient({
  serverError: (status) => "The server answered " + status + "; nothing was changed. Try again.",
  networkError: "Could not reach vaultfront; nothing was changed. Check your connection and try again.",
  loginUrl: "/login?next=" + encodeURIComponent(window.location.pathname),
});

// The drawer. mode: "create", "edit" or null (closed); current: the secret's detail while
// editing; cleared: environment -> true when its value is to be cleared on Save; saving: a
// POST or PATCH is under way.
export const state = { mode: null, current: null, cleared: {}, saving: false };
