// The value of each environment in the drawer.
//
// Each environment has two controls for its value: a password input (one line) and a
// textarea (multi-line: PEM keys, certificates, JSON), masked with -webkit-text-security.
// One is shown at a time; `parts.input` is the one in use, the label points at it, and
// switching moves what was typed from one to the other. In edit mode each shows the
// value's mask as its placeholder (never the value), and Clear marks the value to be
// cleared on Save.

import { form } from "./form.js";
import { ENVIRONMENTS, ENV_LABELS } from "./model.js";
import { state } from "./page.js";

const LINE_BREAKS_MESSAGE =
  "This value has line breaks, which a single-line field would drop. Remove them, or keep it multi-line.";

/** Per environment: its field, both controls, the toggles, the state line, the error slot. */
export const envFields = {};
ENVIRONMENTS.forEach((env) => {
  const field = form.querySelector('.env-field[data-env="' + env + '"]');
  const line = field.querySelector(".value-line");
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

function setShown(env, shown) {
  const parts = envFields[env];
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
  const parts = envFields[env];
  const from = parts.input;
  const to = multiline ? parts.multi : parts.line;
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

export function setPlaceholder(env, text) {
  envFields[env].line.placeholder = text;
  envFields[env].multi.placeholder = text;
}

function setValueDisabled(env, disabled) {
  envFields[env].line.disabled = disabled;
  envFields[env].multi.disabled = disabled;
}

/** Every value control enabled or not (a cleared value stays disabled until Undo). */
export function setValuesEditable(editable) {
  ENVIRONMENTS.forEach((env) => {
    const parts = envFields[env];
    setValueDisabled(env, !editable || !!state.cleared[env]);
    parts.multilineToggle.disabled = !editable;
    parts.toggle.disabled = !editable;
    parts.clear.disabled = !editable;
  });
}

// What Save sends for this environment: exactly what was typed, with \n line endings.
export function typedValue(env) {
  return envFields[env].input.value.replace(/\r\n?/g, "\n");
}

export function setCleared(env, cleared) {
  const parts = envFields[env];
  const value = state.current && state.current.values ? state.current.values[env] : null;
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

/** The placeholder of a value control: its mask in edit mode, never the value. */
export function placeholderFor(value) {
  if (state.mode === "create") return "Optional";
  if (value && value.set) return value.mask || "***";
  return "Not set";
}

export function renderEnvState(env) {
  const parts = envFields[env];
  const value = state.current && state.current.values ? state.current.values[env] : null;
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

/** Wipes what was typed and goes back to one hidden line, without an error. */
export function resetValue(env) {
  const parts = envFields[env];
  parts.line.value = "";
  parts.multi.value = "";
  setMultiline(env, false);
  setShown(env, false);
  parts.error.hidden = true;
}

/** The Show/Hide, Multi-line and Clear buttons, and pasting lines into one line;
 *  `onClearToggled` runs after Clear or Undo (typing reaches the form's input event). */
export function wireValueControls(onClearToggled) {
  ENVIRONMENTS.forEach((env) => {
    const parts = envFields[env];
    parts.toggle.addEventListener("click", () => {
      setShown(env, !parts.shown);
    });
    parts.multilineToggle.addEventListener("click", () => {
      if (setMultiline(env, parts.input === parts.line)) parts.input.focus();
    });
    parts.clear.addEventListener("click", () => {
      setCleared(env, !state.cleared[env]);
      onClearToggled();
    });
    parts.line.addEventListener("paste", (event) => {
      const text = event.clipboardData ? event.clipboardData.getData("text") : "";
      if (!/[\r\n]/.test(text)) return;
      // A single-line input would silently drop the line breaks and store a wrong value:
      // the paste goes into the multi-line field instead, where the caret was.
      event.preventDefault();
      const line = parts.line;
      const start = line.selectionStart === null ? line.value.length : line.selectionStart;
      const end = line.selectionEnd === null ? start : line.selectionEnd;
      const pasted = text.replace(/\r\n?/g, "\n");
      const combined = line.value.slice(0, start) + pasted + line.value.slice(end);
      line.value = ""; // (an <input> would strip the line breaks from `combined`)
      setMultiline(env, true);
      parts.multi.value = combined;
      parts.multi.focus();
      parts.multi.setSelectionRange(start + pasted.length, start + pasted.length);
      parts.multi.dispatchEvent(new Event("input", { bubbles: true })); // dirty tracking
    });
  });
}
