// The secrets page: the grid, the add/edit drawer and the delete confirmation.
//
// Every read and write goes through the JSON API with the session cookie and the
// X-CSRF-Token header; the server decides what is allowed, the page only mirrors it.
// Values typed here are sent once, on Save, and wiped from the inputs when the drawer
// closes; the API only ever answers with masks.
//
// Each environment has two controls for its value: a password input (one line) and a
// textarea (multi-line: PEM keys, certificates, JSON), masked with -webkit-text-security.
// One is shown at a time; `parts.input` is the one in use, the label points at it, and
// switching moves what was typed from one to the other.
//
// Admins also get an Owner select (transfer of ownership, SPEC section 3), filled from
// GET /api/orgs/{org}/members once per page, the first time a secret is opened.
(function () {
  "use strict";

  var ENVIRONMENTS = ["development", "staging", "production"];
  var ENV_LABELS = { development: "Development", staging: "Staging", production: "Production" };
  var LINE_BREAKS_MESSAGE =
    "This value has line breaks, which a single-line field would drop. Remove them, or keep it multi-line.";

  var page = document.getElementById("secrets-page");
  var org = page.dataset.org;
  var canCreate = page.dataset.canCreate === "true";
  var canTransfer = page.dataset.canTransfer === "true"; // admin: may change a secret's owner
  var csrf = metaContent("csrf-token");
  var styleNonce = metaContent("csp-nonce");
  var apiBase = "/api/orgs/" + encodeURIComponent(org) + "/secrets";

  var dialog = document.getElementById("secret-dialog");
  var form = document.getElementById("secret-form");
  var titleEl = document.getElementById("secret-dialog-title");
  var eyebrowEl = document.getElementById("secret-dialog-eyebrow");
  var banner = document.getElementById("owner-banner");
  var bannerText = document.getElementById("owner-banner-text");
  var formError = document.getElementById("form-error");
  var formErrorText = document.getElementById("form-error-text");
  var reloadButton = document.getElementById("reload-secret");
  var idField = document.getElementById("id-field");
  var idInput = document.getElementById("secret-id");
  var nameInput = document.getElementById("secret-name");
  var descriptionInput = document.getElementById("secret-description");
  var ownerField = document.getElementById("owner-field");
  var ownerSelect = document.getElementById("secret-owner");
  var metaOwnerItem = document.getElementById("meta-owner-item");
  var saveButton = document.getElementById("save-secret");
  var deleteButton = document.getElementById("delete-secret");
  var dirtySummary = document.getElementById("dirty-summary");
  var metaBlock = document.getElementById("secret-meta");
  var deleteDialog = document.getElementById("delete-dialog");
  var deleteForm = document.getElementById("delete-form");
  var deleteConfirm = document.getElementById("delete-confirm");
  var deleteConfirmButton = document.getElementById("delete-confirm-button");
  var deleteError = document.getElementById("delete-error");
  var countEl = document.getElementById("secret-count");
  var gridError = document.getElementById("grid-error");

  var envFields = {};
  ENVIRONMENTS.forEach(function (env) {
    var field = form.querySelector('.env-field[data-env="' + env + '"]');
    var line = field.querySelector(".value-line");
    envFields[env] = {
      field: field,
      label: field.querySelector("label"),
      line: line,
      multi: field.querySelector(".value-multiline"),
      input: line, // the control in use: `line` or `multi`
      shown: false,
      multilineToggle: field.querySelector(".multiline-toggle"),
      toggle: field.querySelector(".toggle-visibility"),
      clear: field.querySelector(".clear-value"),
      state: field.querySelector(".env-state"),
      error: field.querySelector(".field-error"),
    };
  });

  // mode: "create" or "edit"; current: the secret's detail while editing.
  var state = { mode: null, current: null, cleared: {}, saving: false };
  var grid = null;
  var totalRows = 0;
  var membersRequest = null; // the members list, asked for once (admins only)

  function metaContent(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  }

  // ---- API -------------------------------------------------------------------------

  function api(method, path, body, headers, pending) {
    var init = {
      method: method,
      credentials: "same-origin",
      cache: "no-store",
      headers: Object.assign({ Accept: "application/json" }, headers || {}),
    };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return (pending || fetch(path, init)).then(
      function (response) {
        var parse = response.status === 204 ? Promise.resolve(null) : response.json().catch(function () { return null; });
        return parse.then(function (data) {
          if (response.status === 401) {
            window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
          }
          var error = null;
          if (!response.ok) {
            error = (data && data.error) || {
              code: "http_" + response.status,
              message: "The server answered " + response.status + "; nothing was changed. Try again.",
              field: null,
            };
          }
          return { status: response.status, data: data, error: error, headers: response.headers };
        });
      },
      function () {
        return {
          status: 0,
          data: null,
          headers: null,
          error: { code: "network", message: "Could not reach vaultfront; nothing was changed. Check your connection and try again.", field: null },
        };
      }
    );
  }

  // ---- Formatting ------------------------------------------------------------------

  function ownerName(owner) {
    if (!owner) return "";
    return owner.name || owner.email || "";
  }

  // One formatter for every cell: toLocaleString would build a new one per call.
  var dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function localDateTime(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return iso;
    return dateFormat.format(date);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function toRow(detail) {
    var environments = detail.environments;
    if (!environments) {
      environments = {};
      ENVIRONMENTS.forEach(function (env) {
        environments[env] = !!(detail.values && detail.values[env] && detail.values[env].set);
      });
    }
    return {
      id: detail.id,
      name: detail.name,
      description: detail.description || "",
      owner: detail.owner,
      created_at: detail.created_at,
      updated_at: detail.updated_at,
      environments: environments,
    };
  }

  var toastTimer = null;
  function toast(message) {
    var node = document.getElementById("toast");
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { node.hidden = true; }, 3500);
  }

  // ---- The grid --------------------------------------------------------------------

  function flagColumn(env, header) {
    return {
      headerName: header,
      colId: env,
      width: 104,
      minWidth: 90,
      valueGetter: function (p) { return p.data && p.data.environments[env] ? "Yes" : "No"; },
      getQuickFilterText: function () { return ""; },
      cellRenderer: function (p) {
        return el("span", "flag " + (p.value === "Yes" ? "flag-yes" : "flag-no"), p.value);
      },
    };
  }

  function createGrid() {
    var theme = agGrid.themeQuartz.withParams({
      fontFamily: ["Inter Variable", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
      fontSize: 13.5,
      foregroundColor: "#111827",
      textColor: "#1f2937",
      backgroundColor: "#ffffff",
      borderColor: "#e3e6eb",
      accentColor: "#4f46e5",
      headerBackgroundColor: "#f9fafb",
      headerTextColor: "#6b7280",
      headerFontSize: 12,
      headerFontWeight: 620,
      rowHoverColor: "#f5f6ff",
      selectedRowBackgroundColor: "#eef2ff",
      wrapperBorderRadius: 10,
      rowHeight: 46,
      headerHeight: 42,
      cellHorizontalPadding: 16,
      columnBorder: false,
      headerColumnBorder: false,
      iconSize: 14,
    });
    var options = {
      theme: theme,
      styleNonce: styleNonce,
      rowData: [],
      getRowId: function (p) { return p.data.id; },
      animateRows: false,
      cacheQuickFilter: true, // 10,000 rows: build each row's filter text once, not per keystroke
      suppressCellFocus: false,
      enableCellTextSelection: false,
      localeText: { noRowsToShow: "No secrets in this organization yet", noMatchingRows: "No secrets match the filter" },
      defaultColDef: { sortable: true, resizable: true, suppressMovable: true, suppressHeaderMenuButton: true },
      columnDefs: [
        {
          headerName: "Name",
          field: "name",
          flex: 2,
          minWidth: 220,
          sort: "asc",
          cellClass: "cell-name",
        },
        {
          headerName: "Description",
          field: "description",
          flex: 3,
          minWidth: 200,
          cellClass: "cell-muted",
          tooltipField: "description",
        },
        flagColumn("development", "Dev"),
        flagColumn("staging", "Staging"),
        flagColumn("production", "Prod"),
        {
          headerName: "Owner",
          colId: "owner",
          flex: 1.3,
          minWidth: 160,
          valueGetter: function (p) { return p.data ? ownerName(p.data.owner) : ""; },
          cellRenderer: function (p) {
            var wrap = el("span", "owner-cell");
            var avatar = wrap.appendChild(el("span", "avatar avatar-initial"));
            avatar.setAttribute("aria-hidden", "true");
            avatar.dataset.initial = (p.value || "?").charAt(0).toUpperCase();
            wrap.appendChild(el("span", "", p.value));
            return wrap;
          },
        },
        {
          headerName: "Created",
          field: "created_at",
          width: 190,
          minWidth: 160,
          valueFormatter: function (p) { return localDateTime(p.value); },
          getQuickFilterText: function (p) { return localDateTime(p.value); },
        },
      ],
      onRowClicked: function (event) {
        if (event.data) openEdit(event.data.id);
      },
      onCellKeyDown: function (event) {
        if (event.event && event.event.key === "Enter" && event.data) openEdit(event.data.id);
      },
      onModelUpdated: updateCount,
    };
    grid = agGrid.createGrid(document.getElementById("secrets-grid"), options);
  }

  function updateCount() {
    if (!grid) return;
    var shown = grid.getDisplayedRowCount();
    totalRows = 0;
    grid.forEachNode(function () { totalRows += 1; });
    var noun = totalRows === 1 ? "secret" : "secrets";
    countEl.textContent = shown === totalRows ? totalRows + " " + noun : shown + " of " + totalRows + " " + noun;
  }

  function loadRows() {
    var pending = window.vaultfrontRowsRequest; // started by secrets-preload.js
    window.vaultfrontRowsRequest = null;
    return api("GET", apiBase, undefined, undefined, pending).then(function (result) {
      if (result.error) {
        gridError.textContent = result.error.message;
        gridError.hidden = false;
        countEl.textContent = "No secrets loaded";
        return;
      }
      gridError.hidden = true;
      grid.setGridOption("rowData", result.data.secrets);
    });
  }

  function upsertRow(detail) {
    var row = toRow(detail);
    if (grid.getRowNode(row.id)) grid.applyTransaction({ update: [row] });
    else grid.applyTransaction({ add: [row] });
    // The quick filter caches each row's text: a renamed row must be matched by its new name.
    grid.resetQuickFilter();
    grid.onFilterChanged();
  }

  function removeRow(id) {
    if (grid.getRowNode(id)) grid.applyTransaction({ remove: [{ id: id }] });
  }

  // ---- The drawer: shared helpers --------------------------------------------------

  function clearErrors() {
    formError.hidden = true;
    reloadButton.hidden = true;
    form.querySelectorAll(".field-error").forEach(function (node) {
      node.hidden = true;
      node.textContent = "";
    });
    form.querySelectorAll(".has-error").forEach(function (node) { node.classList.remove("has-error"); });
  }

  function showFormError(message, offerReload) {
    formErrorText.textContent = message;
    formError.hidden = false;
    reloadButton.hidden = !offerReload;
    formError.scrollIntoView({ block: "nearest" });
  }

  function showError(error) {
    var field = error.field ? form.querySelector('[data-field="' + CSS.escape(error.field) + '"]') : null;
    if (field) {
      var slot = field.querySelector(".field-error");
      slot.textContent = error.message;
      slot.hidden = false;
      field.classList.add("has-error");
      var input = field.querySelector("input:not([hidden]), textarea:not([hidden]), select");
      if (input && !input.disabled) input.focus();
    } else {
      showFormError(error.message, error.code === "version_conflict");
    }
  }

  function setShown(env, shown) {
    var parts = envFields[env];
    parts.shown = shown;
    parts.line.type = shown ? "text" : "password";
    parts.multi.classList.toggle("is-masked", !shown);
    parts.toggle.textContent = shown ? "Hide" : "Show";
    parts.toggle.setAttribute("aria-pressed", shown ? "true" : "false");
    parts.toggle.setAttribute("aria-label", (shown ? "Hide " : "Show ") + ENV_LABELS[env] + " value");
  }

  // Whether the value is typed on one line or several; false if it cannot switch back to
  // one line because what was typed has line breaks (an <input> would drop them).
  function setMultiline(env, multiline) {
    var parts = envFields[env];
    var from = parts.input;
    var to = multiline ? parts.multi : parts.line;
    if (from === to) return true;
    if (!multiline && /[\r\n]/.test(from.value)) {
      parts.error.textContent = LINE_BREAKS_MESSAGE;
      parts.error.hidden = false;
      return false;
    }
    to.value = from.value;
    from.value = "";
    from.hidden = true;
    to.hidden = false;
    parts.input = to;
    parts.label.htmlFor = to.id;
    parts.toggle.setAttribute("aria-controls", to.id);
    parts.multilineToggle.setAttribute("aria-pressed", multiline ? "true" : "false");
    parts.field.classList.toggle("is-multiline", multiline);
    if (parts.error.textContent === LINE_BREAKS_MESSAGE) parts.error.hidden = true;
    return true;
  }

  function setPlaceholder(env, text) {
    envFields[env].line.placeholder = text;
    envFields[env].multi.placeholder = text;
  }

  function setValueDisabled(env, disabled) {
    envFields[env].line.disabled = disabled;
    envFields[env].multi.disabled = disabled;
  }

  // What Save sends for this environment: exactly what was typed, with \n line endings.
  function typedValue(env) {
    return envFields[env].input.value.replace(/\r\n?/g, "\n");
  }

  function setCleared(env, cleared) {
    var parts = envFields[env];
    var value = state.current && state.current.values ? state.current.values[env] : null;
    state.cleared[env] = cleared;
    parts.line.value = "";
    parts.multi.value = "";
    setValueDisabled(env, cleared);
    setPlaceholder(env, cleared ? "Will be cleared when you save" : placeholderFor(value));
    parts.clear.textContent = cleared ? "Undo" : "Clear";
    parts.clear.setAttribute("aria-pressed", cleared ? "true" : "false");
    parts.clear.setAttribute("aria-label", (cleared ? "Undo clearing " : "Clear ") + ENV_LABELS[env] + " value");
    renderEnvState(env);
  }

  function placeholderFor(value) {
    if (state.mode === "create") return "Optional";
    if (value && value.set) return value.mask || "***";
    return "Not set";
  }

  function renderEnvState(env) {
    var parts = envFields[env];
    var value = state.current && state.current.values ? state.current.values[env] : null;
    parts.state.className = "env-state";
    if (state.mode !== "edit") {
      parts.state.textContent = "";
    } else if (state.cleared[env]) {
      parts.state.textContent = "Will be cleared";
      parts.state.classList.add("is-cleared");
    } else if (value && value.set) {
      parts.state.textContent = state.current.can_edit ? "Set · type to replace" : "Set";
      parts.state.classList.add("is-set");
    } else {
      parts.state.textContent = "Not set";
    }
  }

  function normalize(text) {
    return (text || "").replace(/\r\n/g, "\n");
  }

  // The body Save would send: in edit mode only what changed.
  function changes() {
    var body = {};
    var values = {};
    if (state.mode === "create") {
      body.name = nameInput.value.trim();
      body.description = descriptionInput.value;
      ENVIRONMENTS.forEach(function (env) {
        if (typedValue(env) !== "") values[env] = typedValue(env);
      });
      body.values = values;
      return body;
    }
    var current = state.current;
    if (nameInput.value !== current.name) body.name = nameInput.value.trim();
    if (normalize(descriptionInput.value) !== normalize(current.description)) body.description = descriptionInput.value;
    var ownerId = selectedOwnerId();
    if (ownerId !== null && ownerId !== current.owner.id) body.owner_id = ownerId;
    ENVIRONMENTS.forEach(function (env) {
      if (state.cleared[env]) values[env] = null;
      else if (typedValue(env) !== "") values[env] = typedValue(env);
    });
    if (Object.keys(values).length) body.values = values;
    return body;
  }

  function markDirty(fieldNode, dirty) {
    fieldNode.classList.toggle("is-dirty", dirty);
    var badge = fieldNode.querySelector(".dirty-badge");
    if (badge) badge.hidden = !dirty;
  }

  function refreshDirty() {
    if (state.mode !== "edit") {
      saveButton.disabled = state.saving;
      dirtySummary.textContent = "";
      return;
    }
    var body = changes();
    var values = body.values || {};
    markDirty(nameInput.closest(".field"), "name" in body);
    markDirty(descriptionInput.closest(".field"), "description" in body);
    markDirty(ownerField, "owner_id" in body);
    ENVIRONMENTS.forEach(function (env) { markDirty(envFields[env].field, env in values); });
    var count = Object.keys(body).filter(function (k) { return k !== "values"; }).length + Object.keys(values).length;
    dirtySummary.textContent = count === 0 ? "" : count === 1 ? "1 unsaved change" : count + " unsaved changes";
    saveButton.disabled = state.saving || count === 0 || !state.current.can_edit;
  }

  function setEditable(editable) {
    [nameInput, descriptionInput].forEach(function (input) { input.disabled = !editable; });
    ENVIRONMENTS.forEach(function (env) {
      var parts = envFields[env];
      setValueDisabled(env, !editable || !!state.cleared[env]);
      parts.multilineToggle.disabled = !editable;
      parts.toggle.disabled = !editable;
      parts.clear.disabled = !editable;
    });
    saveButton.disabled = !editable;
    deleteButton.disabled = !editable;
  }

  function resetForm() {
    clearErrors();
    state.cleared = {};
    state.saving = false;
    nameInput.value = "";
    descriptionInput.value = "";
    ENVIRONMENTS.forEach(function (env) {
      envFields[env].line.value = "";
      envFields[env].multi.value = "";
      setMultiline(env, false);
      setShown(env, false);
      envFields[env].error.hidden = true;
      markDirty(envFields[env].field, false);
    });
    markDirty(nameInput.closest(".field"), false);
    markDirty(descriptionInput.closest(".field"), false);
    markDirty(ownerField, false);
    ownerField.hidden = true;
    ownerSelect.replaceChildren();
    saveButton.textContent = "Save";
    dirtySummary.textContent = "";
  }

  // ---- The Owner field (admins) ---------------------------------------------------

  function memberLabel(person) {
    return person.name ? person.name + " (" + person.email + ")" : person.email;
  }

  function loadMembers() {
    if (!membersRequest) {
      membersRequest = api("GET", "/api/orgs/" + encodeURIComponent(org) + "/members").then(function (result) {
        if (result.error) membersRequest = null; // ask again at the next opening
        return result;
      });
    }
    return membersRequest;
  }

  function selectedOwnerId() {
    if (ownerField.hidden || ownerSelect.disabled || ownerSelect.value === "") return null;
    return Number(ownerSelect.value);
  }

  function ownerOption(id, label) {
    var option = el("option", "", label);
    option.value = id === null || id === undefined ? "" : String(id); // "": no owner left
    return option;
  }

  // The members who can own, the current owner selected. Until the list arrives (or if it
  // cannot be had) the select holds the current owner alone, disabled.
  function fillOwnerField(detail) {
    var owner = detail.owner || {};
    ownerSelect.replaceChildren(ownerOption(owner.id, ownerName(owner)));
    ownerSelect.disabled = true;
    ownerField.hidden = false;
    loadMembers().then(function (result) {
      if (!state.current || state.current.id !== detail.id || state.current.version !== detail.version) return;
      if (result.error) {
        var slot = document.getElementById("secret-owner-error");
        slot.textContent = "Could not load the members: " + result.error.message;
        slot.hidden = false;
        return;
      }
      var options = [];
      var listed = false;
      result.data.members.forEach(function (person) {
        if (!person.can_own) return;
        if (person.id === owner.id) listed = true;
        options.push(ownerOption(person.id, memberLabel(person)));
      });
      // An owner who can no longer own (made a viewer, or gone) stays shown as the owner.
      if (!listed) options.unshift(ownerOption(owner.id, ownerName(owner) + " (cannot own)"));
      ownerSelect.replaceChildren.apply(ownerSelect, options);
      ownerSelect.value = owner.id === null || owner.id === undefined ? "" : String(owner.id);
      ownerSelect.disabled = false;
      refreshDirty();
    });
  }

  // ---- Add -------------------------------------------------------------------------

  function openCreate() {
    state.mode = "create";
    state.current = null;
    resetForm();
    eyebrowEl.textContent = "New secret in " + org;
    titleEl.textContent = "Add Secret";
    titleEl.classList.add("is-new");
    banner.hidden = true;
    idField.hidden = true;
    metaBlock.hidden = true;
    deleteButton.hidden = true;
    ENVIRONMENTS.forEach(function (env) {
      envFields[env].clear.hidden = true;
      setPlaceholder(env, placeholderFor(null));
      renderEnvState(env);
    });
    setEditable(true);
    refreshDirty();
    dialog.showModal();
    nameInput.focus();
  }

  // ---- Edit ------------------------------------------------------------------------

  function fillEdit(detail) {
    state.mode = "edit";
    state.current = detail;
    resetForm();
    eyebrowEl.textContent = "Secret";
    titleEl.textContent = detail.name;
    titleEl.classList.remove("is-new");
    idField.hidden = false;
    idInput.value = detail.id;
    nameInput.value = detail.name;
    descriptionInput.value = detail.description || "";
    ENVIRONMENTS.forEach(function (env) {
      var value = detail.values ? detail.values[env] : null;
      setPlaceholder(env, placeholderFor(value));
      envFields[env].clear.hidden = !(value && value.set);
      setCleared(env, false);
    });
    metaBlock.hidden = false;
    document.getElementById("meta-owner").textContent = ownerName(detail.owner);
    // An admin changes the owner in the Owner field; everyone else reads it here.
    var transfer = canTransfer && !!detail.can_edit;
    metaOwnerItem.hidden = transfer;
    if (transfer) fillOwnerField(detail);
    document.getElementById("meta-created").textContent = localDateTime(detail.created_at);
    document.getElementById("meta-updated").textContent = localDateTime(detail.updated_at);
    document.getElementById("meta-version").textContent = String(detail.version);
    deleteButton.hidden = false;
    if (detail.can_edit) {
      banner.hidden = true;
    } else {
      bannerText.textContent = "Only " + ownerName(detail.owner) + " can modify this secret";
      banner.hidden = false;
    }
    setEditable(!!detail.can_edit);
    refreshDirty();
  }

  function fetchDetail(id) {
    return api("GET", apiBase + "/" + encodeURIComponent(id));
  }

  function openEdit(id) {
    fetchDetail(id).then(function (result) {
      if (result.error) {
        if (result.status === 404) {
          removeRow(id);
          toast("That secret no longer exists.");
        } else {
          gridError.textContent = result.error.message;
          gridError.hidden = false;
        }
        return;
      }
      fillEdit(result.data);
      upsertRow(result.data);
      if (!dialog.open) dialog.showModal();
      (result.data.can_edit ? nameInput : dialog.querySelector("[data-close]")).focus();
    });
  }

  function reloadCurrent() {
    if (!state.current) return;
    var id = state.current.id;
    fetchDetail(id).then(function (result) {
      if (result.error) {
        if (result.status === 404) removeRow(id);
        showFormError(result.error.message, false);
        return;
      }
      fillEdit(result.data);
      upsertRow(result.data);
      toast("Reloaded " + result.data.name + ": your unsaved changes were discarded.");
    });
  }

  // ---- Save ------------------------------------------------------------------------

  function save(event) {
    event.preventDefault();
    if (state.saving) return;
    clearErrors();
    var body = changes();
    var request;
    if (state.mode === "create") {
      request = api("POST", apiBase, body);
    } else {
      if (!state.current.can_edit || Object.keys(body).length === 0) return;
      request = api("PATCH", apiBase + "/" + encodeURIComponent(state.current.id), body, {
        "If-Match": '"' + state.current.version + '"',
      });
    }
    state.saving = true;
    saveButton.disabled = true;
    saveButton.textContent = "Saving…";
    request.then(function (result) {
      state.saving = false;
      saveButton.textContent = "Save";
      if (result.error) {
        if (result.status === 412) {
          showFormError(
            "Someone else changed this secret since you opened it, so nothing was saved. Reload it to see their version, then make your change again.",
            true
          );
        } else {
          showError(result.error);
        }
        refreshDirty();
        return;
      }
      var created = state.mode === "create";
      upsertRow(result.data);
      closeDrawer();
      toast((created ? "Added " : "Saved ") + result.data.name);
    });
  }

  function closeDrawer() {
    resetForm();
    if (dialog.open) dialog.close();
  }

  // ---- Delete ----------------------------------------------------------------------

  function openDelete() {
    if (!state.current || !state.current.can_edit) return;
    document.getElementById("delete-secret-name").textContent = state.current.name;
    deleteConfirm.value = "";
    deleteConfirmButton.disabled = true;
    deleteConfirmButton.textContent = "Delete secret";
    deleteError.hidden = true;
    deleteDialog.showModal();
    deleteConfirm.focus();
  }

  function confirmDelete(event) {
    event.preventDefault();
    if (deleteConfirm.value !== "delete" || !state.current) return;
    var secret = state.current;
    deleteConfirmButton.disabled = true;
    deleteConfirmButton.textContent = "Deleting…";
    api("DELETE", apiBase + "/" + encodeURIComponent(secret.id)).then(function (result) {
      deleteConfirmButton.textContent = "Delete secret";
      if (result.error) {
        deleteError.textContent = result.error.message;
        deleteError.hidden = false;
        deleteConfirmButton.disabled = deleteConfirm.value !== "delete";
        return;
      }
      removeRow(secret.id);
      deleteDialog.close();
      closeDrawer();
      toast("Deleted " + secret.name);
    });
  }

  // ---- Wiring ----------------------------------------------------------------------

  form.addEventListener("submit", save);
  form.addEventListener("input", refreshDirty);
  dialog.addEventListener("cancel", resetForm); // Escape: wipe at once, "close" comes later
  dialog.addEventListener("close", function () {
    // Typed values must not linger in the page once the drawer is gone.
    resetForm();
    state.current = null;
    state.mode = null;
  });
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) closeDrawer(); // a click on the backdrop
  });
  dialog.querySelectorAll("[data-close]").forEach(function (button) {
    button.addEventListener("click", closeDrawer);
  });
  reloadButton.addEventListener("click", reloadCurrent);
  deleteButton.addEventListener("click", openDelete);

  ENVIRONMENTS.forEach(function (env) {
    var parts = envFields[env];
    parts.toggle.addEventListener("click", function () {
      setShown(env, !parts.shown);
    });
    parts.multilineToggle.addEventListener("click", function () {
      if (setMultiline(env, parts.input === parts.line)) parts.input.focus();
    });
    parts.clear.addEventListener("click", function () {
      setCleared(env, !state.cleared[env]);
      refreshDirty();
    });
    parts.line.addEventListener("paste", function (event) {
      var text = event.clipboardData ? event.clipboardData.getData("text") : "";
      if (!/[\r\n]/.test(text)) return;
      // A single-line input would silently drop the line breaks and store a wrong value:
      // the paste goes into the multi-line field instead, where the caret was.
      event.preventDefault();
      var line = parts.line;
      var start = line.selectionStart === null ? line.value.length : line.selectionStart;
      var end = line.selectionEnd === null ? start : line.selectionEnd;
      var pasted = text.replace(/\r\n?/g, "\n");
      var combined = line.value.slice(0, start) + pasted + line.value.slice(end);
      line.value = ""; // (an <input> would strip the line breaks from `combined`)
      setMultiline(env, true);
      parts.multi.value = combined;
      parts.multi.focus();
      parts.multi.setSelectionRange(start + pasted.length, start + pasted.length);
      parts.multi.dispatchEvent(new Event("input", { bubbles: true })); // dirty tracking
    });
  });

  deleteConfirm.addEventListener("input", function () {
    deleteConfirmButton.disabled = deleteConfirm.value !== "delete";
  });
  deleteForm.addEventListener("submit", confirmDelete);
  deleteDialog.querySelector("[data-cancel]").addEventListener("click", function () {
    deleteDialog.close();
  });

  var quickFilter = document.getElementById("quick-filter");
  quickFilter.addEventListener("input", function () {
    grid.setGridOption("quickFilterText", quickFilter.value);
  });

  if (canCreate) document.getElementById("add-secret").addEventListener("click", openCreate);

  createGrid();
  loadRows();
})();
