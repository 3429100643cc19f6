/* What the panel knows, shared by its modules: one object (the module beside a field changes
 * it), and the request helper for frames that want an answer. */
import { ChatSocket } from "/widget/static/socket.js";

export var PAGE = 50;

export var state = {
  me: null, socket: null, epoch: null,
  conversations: {},        // open conversations of my sites: id -> summary (live) — inbox.js
  known: {},                // every summary seen (resolved, earlier, search results) by id
  sites: [], colleagues: [], teams: [], canned: [],
  view: "queue", filters: { site: "", tag: "" },
  resolvedPage: [], resolvedNext: null, searchHits: [],
  searchQuery: "",          // the words searchHits were found with (their snippets' marks)
  followUps: [],           // the agent's upcoming follow-ups (the Follow-ups view)
  mentionNotes: [],        // the notes that mention the agent (the Mentions view)
  mentioned: {},            // id -> true: a colleague's note there is for me, not opened since
  current: null, currentSeq: 0, oldestSeq: 0,   // the open conversation — conversation.js
  opening: null,            // its open on its way (until the answer) — conversation.js
  outbox: [],               // replies sent but not acknowledged — composer.js
  pending: {},              // request id -> callback for its ack or error
  visitorReadSeq: 0, sentRead: 0,
  currentVisitor: null,     // {name, email, named} of the open conversation — context.js
  away: false, autoAway: false
};

/** Send a frame with an id; ``done`` gets its ack or error. */
export function request(frame, done) {
  frame.id = ChatSocket.newId();
  if (done) state.pending[frame.id] = done;
  if (!state.socket.send(frame) && done) {
    delete state.pending[frame.id];
    done({ type: "error", message: "offline" });
  }
}

/** A site's colleagues as they are now (``colleagues``): who is listed works on it, who is not
 * no longer does (gone when they work on none of mine); their other sites are as they were. */
export function replaceColleagues(f) {
  var listed = {}, kept = [];
  f.agents.forEach(function (a) { listed[a.id] = a; });
  state.colleagues.forEach(function (a) {
    var sites = (a.sites || []).filter(function (s) { return s !== f.site_id; });
    if (listed[a.id]) sites.push(f.site_id);
    if (sites.length) kept.push(Object.assign({}, listed[a.id] || a, { sites: sites }));
    delete listed[a.id];
  });
  Object.keys(listed).forEach(function (id) {
    kept.push(Object.assign({}, listed[id], { sites: [f.site_id] }));
  });
  state.colleagues = kept.sort(function (a, b) {  // (the welcome's order: name, then id)
    return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}

export function summary(id) { return state.conversations[id] || state.known[id]; }
/** Another conversation of ``c``'s visitor is open (a visitor has one at a time: a resolved one
 * cannot be reopened until it is resolved). Every open conversation of my sites is known. */
export function otherOpen(c) {
  return Object.keys(state.conversations).some(function (id) {
    return id !== c.id && state.conversations[id].visitor.id === c.visitor.id;
  });
}
export function snoozed(c) { return c.snoozed_until !== null && c.snoozed_until !== undefined; }
export function siteName(id) {
  var s = state.sites.filter(function (x) { return x.id === id; })[0];
  return s ? s.name : id;
}
