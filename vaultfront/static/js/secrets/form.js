// The drawer's form (#secret-form in secrets.html): its shared controls, and where errors
// show. Errors with a `field` go under that field (data-field="name", "values.production",
// ...); the others (Vault down, forbidden, a conflict) at the top of the form.

export const form = document.getElementById("secret-form");
export const nameInput = document.getElementById("secret-name");
export const descriptionInput = document.getElementById("secret-description");
export const saveButton = document.getElementById("save-secret");
export const deleteButton = document.getElementById("delete-secret");
export const reloadButton = document.getElementById("reload-secret");
export const dirtySummary = document.getElementById("dirty-summary");
const formError = document.getElementById("form-error");
const formErrorText = document.getElementById("form-error-text");

export function clearErrors() {
  formError.hidden = true;
  reloadButton.hidden = true;
  form.querySelectorAll(".field-error").forEach((node) => {
    node.hidden = true;
    node.textContent = "";
  });
  form.querySelectorAll(".has-error").forEach((node) => node.classList.remove("has-error"));
}

/** A message at the top of the form; `offerReload` adds the Reload button. */
export function showFormError(message, offerReload) {
  formErrorText.textContent = message;
  formError.hidden = false;
  reloadButton.hidden = !offerReload;
  formError.scrollIntoView({ block: "nearest" });
}

/** The server's { code, message, field }: under its field if the form has it. */
export function showError(error) {
  const field = error.field ? form.querySelector('[data-field="' + CSS.escape(error.field) + '"]') : null;
  if (field) {
    const slot = field.querySelector(".field-error");
    slot.textContent = error.message;
    slot.hidden = false;
    field.classList.add("has-error");
    const input = field.querySelector("input:not([hidden]), textarea:not([hidden]), select");
    if (input && !input.disabled) input.focus();
  } else {
    showFormError(error.message, error.code === "version_conflict");
  }
}
