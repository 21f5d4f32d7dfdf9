// The API tokens page: list, create (the plaintext is shown once), revoke.
// Calls /account/tokens with the session cookie and X-CSRF-Token.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var body = document.getElementById("tokens-body");
  var form = document.getElementById("token-form");
  var nameInput = document.getElementById("token-name");
  var nameError = document.getElementById("token-name-error");
  var createButton = document.getElementById("create-token");
  var newToken = document.getElementById("new-token");
  var newTokenValue = document.getElementById("new-token-value");
  var newTokenName = document.getElementById("new-token-name");
  var copyButton = document.getElementById("copy-token");
  var listError = document.getElementById("tokens-error");
  var revokeDialog = document.getElementById("revoke-dialog");
  var revokeForm = document.getElementById("revoke-form");
  var revokeError = document.getElementById("revoke-error");
  var revokeConfirm = document.getElementById("revoke-confirm");
  var revoking = null;

  function call(method, path, payload) {
    var init = { method: method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    return fetch(path, init).then(
      function (response) {
        var parse = response.status === 204 ? Promise.resolve(null) : response.json().catch(function () { return null; });
        return parse.then(function (data) {
          if (response.status === 401) window.location.assign("/login?next=/tokens");
          var error = response.ok ? null : (data && data.error) || { message: "The server answered " + response.status + ". Try again." };
          return { status: response.status, data: data, error: error };
        });
      },
      function () {
        return { status: 0, data: null, error: { message: "Could not reach vaultfront. Check your connection and try again." } };
      }
    );
  }

  function when(iso, never) {
    if (!iso) return never;
    var date = new Date(iso);
    return isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined) td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render(tokens) {
    body.replaceChildren();
    if (!tokens.length) {
      var empty = document.createElement("tr");
      var td = cell(empty, "No tokens yet. Create one above for a script or the CLI.", "muted");
      td.colSpan = 6;
      td.style.textAlign = "left";
      body.appendChild(empty);
      return;
    }
    tokens.forEach(function (token) {
      var row = document.createElement("tr");
      row.dataset.tokenId = String(token.id);
      if (token.revoked_at) row.className = "is-revoked";
      cell(row, token.name);
      cell(row, token.prefix + "…", "mono");
      cell(row, when(token.created_at, ""));
      cell(row, when(token.last_used_at, "Never"));
      var status = cell(row);
      var pill = document.createElement("span");
      pill.className = "status-pill " + (token.revoked_at ? "status-revoked" : "status-active");
      pill.textContent = token.revoked_at ? "Revoked " + when(token.revoked_at, "") : "Active";
      status.appendChild(pill);
      var actions = cell(row);
      if (!token.revoked_at) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button button-danger-ghost button-small";
        button.textContent = "Revoke";
        button.setAttribute("aria-label", "Revoke " + token.name);
        button.addEventListener("click", function () { openRevoke(token); });
        actions.appendChild(button);
      }
      body.appendChild(row);
    });
  }

  function load() {
    return call("GET", "/account/tokens").then(function (result) {
      if (result.error) {
        listError.textContent = result.error.message;
        listError.hidden = false;
        return;
      }
      listError.hidden = true;
      render(result.data.tokens);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    nameError.hidden = true;
    nameInput.closest(".field").classList.remove("has-error");
    createButton.disabled = true;
    call("POST", "/account/tokens", { name: nameInput.value }).then(function (result) {
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

  copyButton.addEventListener("click", function () {
    var done = function () { copyButton.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(newTokenValue.value).then(done, function () {
        newTokenValue.select();
        copyButton.textContent = "Press Ctrl+C";
      });
    } else {
      newTokenValue.select();
      copyButton.textContent = "Press Ctrl+C";
    }
  });

  function openRevoke(token) {
    revoking = token;
    document.getElementById("revoke-token-name").textContent = token.name;
    revokeError.hidden = true;
    revokeConfirm.disabled = false;
    revokeDialog.showModal();
  }

  revokeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!revoking) return;
    revokeConfirm.disabled = true;
    call("DELETE", "/account/tokens/" + encodeURIComponent(revoking.id)).then(function (result) {
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
  revokeDialog.querySelector("[data-cancel]").addEventListener("click", function () { revokeDialog.close(); });

  load();
})();
