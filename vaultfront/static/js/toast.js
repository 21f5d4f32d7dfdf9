// The short notice at the bottom of the page (`#toast` in base.html, a polite live region).

let hideTimer = null;

export function toast(message) {
  const node = document.getElementById("toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => { node.hidden = true; }, 3500);
}
