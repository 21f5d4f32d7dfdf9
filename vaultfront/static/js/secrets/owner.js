// The Owner field: admins transfer a secret's ownership (SPEC section 3) in the drawer.
//
// Its options are the members who can own, from GET /api/orgs/{org}/members, asked once per
// page the first time a secret is opened (again only if that failed). Only admins see the
// field (data-can-transfer); everyone else reads the owner as text in the drawer's meta
// block. The server decides: a non-admin's owner_id is refused with 403.

import { el } from "../dom.js";
import { ownerName } from "./model.js";
import { api, membersPath, state } from "./page.js";

export const ownerField = document.getElementById("owner-field");
const ownerSelect = document.getElementById("secret-owner");
let membersRequest = null; // the members list, asked for once (admins only)

function memberLabel(person) {
  return person.name ? person.name + " (" + person.email + ")" : person.email;
}

function loadMembers() {
  if (!membersRequest) {
    membersRequest = api("GET", membersPath).then((result) => {
      if (result.error) membersRequest = null; // ask again at the next opening
      return result;
    });
  }
  return membersRequest;
}

/** The owner chosen in the field, or null while it shows none or cannot be changed. */
export function selectedOwnerId() {
  if (ownerField.hidden || ownerSelect.disabled || ownerSelect.value === "") return null;
  return Number(ownerSelect.value);
}

function ownerOption(id, label) {
  const option = el("option", "", label);
  option.value = id === null || id === undefined ? "" : String(id); // "": no owner left
  return option;
}

// The members who can own, the current owner selected. Until the list arrives (or if it
// cannot be had) the select holds the current owner alone, disabled. `onFilled` runs once
// the list is in (the field can now be changed).
export function fillOwnerField(detail, onFilled) {
  const owner = detail.owner || {};
  ownerSelect.replaceChildren(ownerOption(owner.id, ownerName(owner)));
  ownerSelect.disabled = true;
  ownerField.hidden = false;
  loadMembers().then((result) => {
    if (!state.current || state.current.id !== detail.id || state.current.version !== detail.version) return;
    if (result.error) {
      const slot = document.getElementById("secret-owner-error");
      slot.textContent = "Could not load the members: " + result.error.message;
      slot.hidden = false;
      return;
    }
    const options = [];
    let listed = false;
    result.data.members.forEach((person) => {
      if (!person.can_own) return;
      if (person.id === owner.id) listed = true;
      options.push(ownerOption(person.id, memberLabel(person)));
    });
    // An owner who can no longer own (made a viewer, or gone) stays shown as the owner.
    if (!listed) options.unshift(ownerOption(owner.id, ownerName(owner) + " (cannot own)"));
    ownerSelect.replaceChildren(...options);
    ownerSelect.value = owner.id === null || owner.id === undefined ? "" : String(owner.id);
    ownerSelect.disabled = false;
    onFilled();
  });
}

/** Hides the field and forgets its options (the drawer is reset). */
export function resetOwnerField() {
  ownerField.hidden = true;
  ownerSelect.replaceChildren();
}
