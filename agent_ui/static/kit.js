/* What the panel's pages share: building DOM nodes (text only, never HTML) and calling the
 * JSON API with the session cookie. */
(function (w) {
  "use strict";
  w.PanelKit = {
    el: function (tag, cls, parent, text) {
      var node = document.createElement(tag);
      if (cls) node.className = cls;
      if (text !== undefined) node.textContent = text;
      if (parent) parent.appendChild(node);
      return node;
    },
    clear: function (node) { while (node.firstChild) node.removeChild(node.firstChild); },
    /** GET without a body, POST with one, or the given method; rejects with the server's
     * message when the answer is not 2xx. */
    api: function (path, body, method) {
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
  };
})(window);
