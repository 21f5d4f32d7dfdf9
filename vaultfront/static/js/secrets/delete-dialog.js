// The delete confirmation: a second modal over the drawer, whose "Delete secret" button
// stays disabled until its field holds exactly `delete`.

import { toast } from "../toast.js";
import { closeDrawer } from "./drawer.js";
import { deleteButton } from "./form.js";
import { removeRow } from "./grid.js";
import { api, secretPath, state } from "./page.js";

const deleteDialog = document.getElementById("delete-dialog");
const deleteForm = document.getElementById("delete-form");
const deleteConfirm = document.getElementById("delete-confirm");
const deleteConfirmButton = document.getElementById("delete-confirm-button");
const deleteError = document.getElementById("delete-error");

// The drawer's Delete button: asks about the secret open in the drawer.
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
  const secret = state.current;
  deleteConfirmButton.disabled = true;
  deleteConfirmButton.textContent = "Deleting…";
  api("DELETE", secretPath(secret.id)).then((result) => {
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

/** The dialog's event listeners and the drawer's Delete button, once per page. */
export function wireDeleteDialog() {
  deleteButton.addEventListener("click", openDelete);
  deleteConfirm.addEventListener("input", () => {
    deleteConfirmButton.disabled = deleteConfirm.value !== "delete";
  });
  deleteForm.addEventListener("submit", confirmDelete);
  deleteDialog.querySelector("[data-cancel]").addEventListener("click", () => {
    deleteDialog.close();
  });
}
