/* The page and what the chat frame knows, shared by its modules: one state object, so that every
 * module reads the same values (only the module named beside a field changes it); the page that
 * embeds us; and building nodes with text, never HTML. */
var params = new URLSearchParams(location.search);

export var page = {
  site: params.get("site") || "",
  parentOrigin: params.get("parent") || "",
  embedded: window.parent !== window,
  lang: params.get("lang")
};

export var state = {
  socket: null,            // connection.js
  token: null, epoch: null, conversationId: null,
  agentsOnline: false,
  assignee: null,          // {name, avatar} of the agent answering, or null
  identity: null,          // the site's signed identity for its logged-in user, if any
  siteInfo: { prechat: [], offline: "form", open: true, next_change: null, theme: "auto" },
  visitor: { name: null, email: null },
  verified: false,
  lastSeq: {},             // conversation id -> highest seq rendered (conversation.js)
  outbox: [],              // [{id, body, attachment, node, sent}] not acknowledged (composer.js);
                           // a file not yet uploaded has {file, name, uploading}
  retrying: false,         // a frame was refused for a while: the banner says so (connection.js)
  pending: {},             // frames resent on every connect until acknowledged (composer.js)
  resolved: false, rating: null, agentReadSeq: 0,
  visitorRead: 0,          // the visitor's read mark (any tab): agent messages after it are unread
  unreadSeqs: [], toldUnread: -1,
  liveFrom: 0,             // messages after this seq arrived live, not as history
  queue: null,             // {position, expected_wait} while waiting
  typicalWait: null,       // seconds: how long the site's visitors wait for an agent, lately
  fresh: false,            // the visitor asked to start a new conversation
  email: false,            // the server sends email (a transcript can be asked for)
  leftMessage: null,       // the email an offline message will be answered at
  isOpen: !(window.parent !== window),
  muted: false,
  pageColor: null,         // data-color on the site's tag wins over the site's setting
  hostPage: null           // {url, title, referrer} of the host page, for the agent's context
};

/** Tell the page that embeds us (its origin named: never "*"). */
export function toParent(message) {
  if (page.embedded && page.parentOrigin) window.parent.postMessage(message, page.parentOrigin);
}

export var $ = function (id) { return document.getElementById(id); };

export function el(tag, cls, parent, text) {
  var node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
