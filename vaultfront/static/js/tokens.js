// The API tokens page (templates/tokens.html): list, create (the plaintext is shown once),
// revoke. Calls /account/tokens with the session cookie and X-CSRF-Token.

import { createClient } from "./api.js";
import { el } from "./dom.js";
import { localDateTime } from "./format.js";

const call = createClient({
  serverError: (status) => "The server answered " + status + ". Try again.",
  networkError: "Could not reach vaultfront. Check your connection and try again.",
  loginUrl: "/login?next=/tokens",
});

const body = document.getElementById("tokens-body");
const form = document.getElementById("token-form");
const nameInput = document.getElementById("token-name");
const nameError = document.getElementById("token-name-error");
const createButton = document.getElementById("create-token");
const newToken = document.getElementById("new-token");
const newTokenValue = document.getElementById("new-token-value");
const newTokenName = document.getElementById("new-token-name");
const copyButton = document.getElementById("copy-token");
const listError = document.getElementById("tokens-error");
const revokeDialog = document.getElementById("revoke-dialog");
const revokeForm = document.getElementById("revoke-form");
const revokeError = document.getElementById("revoke-error");
const revokeConfirm = document.getElementById("revoke-confirm");
let revoking = null;

function when(iso, never) {
  return iso ? localDateTime(iso) : never;
}

function cell(row, text, className) {
  return row.appendChild(el("td", className, text));
}

function render(tokens) {
  body.replaceChildren();
  if (!tokens.length) {
    const empty = document.createElement("tr");
    const td = cell(empty, "No tokens yet. Create one above for a script or the CLI.", "muted");
    td.colSpan = 6;
    td.style.textAlign = "left";
    body.appendChild(empty);
    return;
  }
  tokens.forEach((token) => {
    const row = document.createElement("tr");
    row.dataset.tokenId = String(token.id);
    if (token.revoked_at) row.className = "is-revoked";
    cell(row, token.name);
    cell(row, token.prefix + "…", "mono");
    cell(row, when(token.created_at, ""));
    cell(row, when(token.last_used_at, "Never"));
    const status = cell(row);
    status.appendChild(
      el(
        "span",
        "status-pill " + (token.revoked_at ? "status-revoked" : "status-active"),
        token.revoked_at ? "Revoked " + when(token.revoked_at, "") : "Active"
      )
    );
    const actions = cell(row);
    if (!token.revoked_at) {
      const button = el("button", "button button-danger-ghost button-small", "Revoke");
      button.type = "button";
      button.setAttribute("aria-label", "Revoke " + token.name);
      button.addEventListener("click", () => openRevoke(token));
      actions.appendChild(button);
    }
    body.appendChild(row);
  });
}

function load() {
  return call("GET", "/account/tokens").then((result) => {
    if (result.error) {
      listError.textContent = result.error.message;
      listError.hidden = false;
      return;
    }
    listError.hidden = true;
    render(result.data.tokens);
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  nameError.hidden = true;
  nameInput.closest(".field").classList.remove("has-error");
  createButton.disabled = true;
  call("POST", "/account/tokens", { name: nameInput.value }).then((result) => {
    createButton.disabled = false;
    if (result.error) {
      nameError.textContent = result.error.message;
      nameError.hidden = false;
      nameInput.closest(".field").classList.add("has-error");
      return;
    }
    newTokenValue.value = result.data.plaintext;
    newTokenName.textContent = "“" + result.data.token.name + "”";
    newToken.hidden = false;
    copyButton.textContent = "Copy";
    nameInput.value = "";
    newTokenValue.focus();
    newTokenValue.select();
    load();
  });
});

copyButton.addEventListener("click", () => {
  const pressCtrlC = () => {
    newTokenValue.select();
    copyButton.textContent = "Press Ctrl+C";
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(newTokenValue.value).then(() => {
      copyButton.textContent = "Copied";
    }, pressCtrlC);
  } else {
    pressCtrlC();
  }
});

function openRevoke(token) {
  revoking = token;
  document.getElementById("revoke-token-name").textContent = token.name;
  revokeError.hidden = true;
  revokeConfirm.disabled = false;
  revokeDialog.showModal();
}

revokeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!revoking) return;
  revokeConfirm.disabled = true;
  call("DELETE", "/account/tokens/" + encodeURIComponent(revoking.id)).then((result) => {
    revokeConfirm.disabled = false;
    if (result.error) {
      revokeError.textContent = result.error.message;
      revokeError.hidden = false;
      return;
    }
    revokeDialog.close();
    revoking = null;
    load();
  });
});
revokeDialog.querySelector("[data-cancel]").addEventListener("click", () => revokeDialog.close());

load();
