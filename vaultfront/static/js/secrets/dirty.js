// Dirty tracking: what Save would send, and the "Modified" marks that show it.
//
// In edit mode Save sends a PATCH with only what changed: the name or description if they
// differ from the stored ones, owner_id if the Owner field changed, a value typed into an
// environment, and null for a value marked to be cleared. Every input event recomputes it.

import { descriptionInput, dirtySummary, nameInput, saveButton } from "./form.js";
import { ENVIRONMENTS } from "./model.js";
import { ownerField, selectedOwnerId } from "./owner.js";
import { state } from "./page.js";
import { envFields, typedValue } from "./values.js";

function normalize(text) {
  return (text || "").replace(/\r\n/g, "\n");
}

// The body Save would send: in edit mode only what changed.
export function changes() {
  const body = {};
  const values = {};
  if (state.mode === "create") {
    body.name = nameInput.value.trim();
    body.description = descriptionInput.value;
    ENVIRONMENTS.forEach((env) => {
      if (typedValue(env) !== "") values[env] = typedValue(env);
    });
    body.values = values;
    return body;
  }
  const current = state.current;
  if (nameInput.value !== current.name) body.name = nameInput.value.trim();
  if (normalize(descriptionInput.value) !== normalize(current.description)) body.description = descriptionInput.value;
  const ownerId = selectedOwnerId();
  if (ownerId !== null && ownerId !== current.owner.id) body.owner_id = ownerId;
  ENVIRONMENTS.forEach((env) => {
    if (state.cleared[env]) values[env] = null;
    else if (typedValue(env) !== "") values[env] = typedValue(env);
  });
  if (Object.keys(values).length) body.values = values;
  return body;
}

export function markDirty(fieldNode, dirty) {
  fieldNode.classList.toggle("is-dirty", dirty);
  const badge = fieldNode.querySelector(".dirty-badge");
  if (badge) badge.hidden = !dirty;
}

/** The Modified badges, the "N unsaved changes" line and whether Save is enabled. */
export function refreshDirty() {
  if (state.mode !== "edit") {
    saveButton.disabled = state.saving;
    dirtySummary.textContent = "";
    return;
  }
  const body = changes();
  const values = body.values || {};
  markDirty(nameInput.closest(".field"), "name" in body);
  markDirty(descriptionInput.closest(".field"), "description" in body);
  markDirty(ownerField, "owner_id" in body);
  ENVIRONMENTS.forEach((env) => markDirty(envFields[env].field, env in values));
  const count = Object.keys(body).filter((k) => k !== "values").length + Object.keys(values).length;
  dirtySummary.textContent = count === 0 ? "" : count === 1 ? "1 unsaved change" : count + " unsaved changes";
  saveButton.disabled = state.saving || count === 0 || !state.current.can_edit;
}
