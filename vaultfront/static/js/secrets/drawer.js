// The drawer: one modal <dialog> docked right, for Add Secret and for a row's secret.
//
// Opening a secret fetches its detail (masks, never values) and fills the form; Save sends
// a POST (create) or a PATCH with only the changes and If-Match: "<version>" (edit); the
// grid row follows the answer. Values typed here are sent once, on Save, and wiped from
// the inputs whenever the drawer closes. Non-owners below admin get the amber banner and
// a disabled form; the server would refuse them anyway.

import { localDateTime } from "../format.js";
import { toast } from "../toast.js";
import { changes, markDirty, refreshDirty } from "./dirty.js";
import {
  clearErrors,
  deleteButton,
  descriptionInput,
  dirtySummary,
  form,
  nameInput,
  reloadButton,
  saveButton,
  showError,
  showFormError,
} from "./form.js";
import { removeRow, showGridError, upsertRow } from "./grid.js";
import { ENVIRONMENTS, ownerName } from "./model.js";
import { fillOwnerField, ownerField, resetOwnerField } from "./owner.js";
import { api, canTransfer, org, secretPath, secretsPath, state } from "./page.js";
import {
  envFields,
  placeholderFor,
  renderEnvState,
  resetValue,
  setCleared,
  setPlaceholder,
  setValuesEditable,
  wireValueControls,
} from "./values.js";

const dialog = document.getElementById("secret-dialog");
const titleEl = document.getElementById("secret-dialog-title");
const eyebrowEl = document.getElementById("secret-dialog-eyebrow");
const banner = document.getElementById("owner-banner");
const bannerText = document.getElementById("owner-banner-text");
const idField = document.getElementById("id-field");
const idInput = document.getElementById("secret-id");
const metaOwnerItem = document.getElementById("meta-owner-item");
const metaBlock = document.getElementById("secret-meta");

function setEditable(editable) {
  [nameInput, descriptionInput].forEach((input) => { input.disabled = !editable; });
  setValuesEditable(editable);
  saveButton.disabled = !editable;
  deleteButton.disabled = !editable;
}

function resetForm() {
  clearErrors();
  state.cleared = {};
  state.saving = false;
  nameInput.value = "";
  descriptionInput.value = "";
  ENVIRONMENTS.forEach((env) => {
    resetValue(env);
    markDirty(envFields[env].field, false);
  });
  markDirty(nameInput.closest(".field"), false);
  markDirty(descriptionInput.closest(".field"), false);
  markDirty(ownerField, false);
  resetOwnerField();
  saveButton.textContent = "Save";
  dirtySummary.textContent = "";
}

// ---- Add -------------------------------------------------------------------------

export function openCreate() {
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
  ENVIRONMENTS.forEach((env) => {
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
  ENVIRONMENTS.forEach((env) => {
    const value = detail.values ? detail.values[env] : null;
    setPlaceholder(env, placeholderFor(value));
    envFields[env].clear.hidden = !(value && value.set);
    setCleared(env, false);
  });
  metaBlock.hidden = false;
  document.getElementById("meta-owner").textContent = ownerName(detail.owner);
  // An admin changes the owner in the Owner field; everyone else reads it here.
  const transfer = canTransfer && !!detail.can_edit;
  metaOwnerItem.hidden = transfer;
  if (transfer) fillOwnerField(detail, refreshDirty);
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
  return api("GET", secretPath(id));
}

/** Opens the drawer on a secret (a row click, or Enter on a row). */
export function openEdit(id) {
  fetchDetail(id).then((result) => {
    if (result.error) {
      if (result.status === 404) {
        removeRow(id);
        toast("That secret no longer exists.");
      } else {
        showGridError(result.error.message);
      }
      return;
    }
    fillEdit(result.data);
    upsertRow(result.data);
    if (!dialog.open) dialog.showModal();
    (result.data.can_edit ? nameInput : dialog.querySelector("[data-close]")).focus();
  });
}

// The Reload button of a 412: the stored version, discarding the unsaved edits.
function reloadCurrent() {
  if (!state.current) return;
  const id = state.current.id;
  fetchDetail(id).then((result) => {
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
  const body = changes();
  let request;
  if (state.mode === "create") {
    request = api("POST", secretsPath, body);
  } else {
    if (!state.current.can_edit || Object.keys(body).length === 0) return;
    request = api("PATCH", secretPath(state.current.id), body, {
      "If-Match": '"' + state.current.version + '"',
    });
  }
  state.saving = true;
  saveButton.disabled = true;
  saveButton.textContent = "Saving…";
  request.then((result) => {
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
    const created = state.mode === "create";
    upsertRow(result.data);
    closeDrawer();
    toast((created ? "Added " : "Saved ") + result.data.name);
  });
}

export function closeDrawer() {
  resetForm();
  if (dialog.open) dialog.close();
}

/** The drawer's event listeners, once per page. */
export function wireDrawer() {
  form.addEventListener("submit", save);
  form.addEventListener("input", refreshDirty);
  dialog.addEventListener("cancel", resetForm); // Escape: wipe at once, "close" comes later
  dialog.addEventListener("close", () => {
    // Typed values must not linger in the page once the drawer is gone.
    resetForm();
    state.current = null;
    state.mode = null;
  });
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) closeDrawer(); // a click on the backdrop
  });
  dialog.querySelectorAll("[data-close]").forEach((button) => {
    button.addEventListener("click", closeDrawer);
  });
  reloadButton.addEventListener("click", reloadCurrent);
  wireValueControls(refreshDirty);
}
