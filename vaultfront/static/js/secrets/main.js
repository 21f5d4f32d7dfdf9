// The secrets page (templates/secrets.html): the grid, the add/edit drawer and the delete
// confirmation. This module only puts them together; see static/README.md for the layout.
//
// Every read and write goes through the JSON API with the session cookie and the
// X-CSRF-Token header; the server decides what is allowed, the page only mirrors it.
// Values typed here are sent once, on Save, and wiped from the inputs when the drawer
// closes; the API only ever answers with masks.

import { wireDeleteDialog } from "./delete-dialog.js";
import { openCreate, openEdit, wireDrawer } from "./drawer.js";
import { createGrid, loadRows, setQuickFilter } from "./grid.js";
import { canCreate } from "./page.js";

wireDrawer();
wireDeleteDialog();

const quickFilter = document.getElementById("quick-filter");
quickFilter.addEventListener("input", () => setQuickFilter(quickFilter.value));

if (canCreate) document.getElementById("add-secret").addEventListener("click", openCreate);

createGrid(openEdit);
loadRows();
