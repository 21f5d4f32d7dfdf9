// Small DOM helpers shared by the pages. Text always goes in through `textContent`, never
// `innerHTML`: names, descriptions and display names are data, not markup.

/** The content of `<meta name="...">`, or "" without one (the CSRF token, the CSP nonce). */
export function metaContent(name) {
  const node = document.querySelector('meta[name="' + name + '"]');
  return node ? node.getAttribute("content") : "";
}

/** A new element with an optional class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
