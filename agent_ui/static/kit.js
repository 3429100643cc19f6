/* What the panel's modules share: building DOM nodes (text only, never HTML) and calling the
 * JSON API with the session cookie. */
export var $ = function (id) { return document.getElementById(id); };

export function el(tag, cls, parent, text) {
  var node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

/** GET without a body, POST with one, or the given method; rejects with the server's message
 * when the answer is not 2xx. */
export function api(path, body, method) {
  return fetch(path, {
    method: method || (body === undefined ? "GET" : "POST"),
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin"
  }).then(function (r) {
    return r.json().catch(function () { return {}; }).then(function (j) {
      if (!r.ok) throw new Error(j.message || ("HTTP " + r.status));
      return j;
    });
  });
}

/** An agent's picture: their avatar URL (an upload, or their initials drawn by the server). */
export function avatar(parent, who, size) {
  var img = el("img", "avatar" + (size ? " " + size : ""), parent);
  img.alt = "";
  img.src = who && who.avatar ? who.avatar : "";
  if (!img.src) img.hidden = true;
  return img;
}
