/* The panel's words. The English text is the key (t("Claim")), so the code reads as it shows;
 * every other language is a module of its own in lang/ mapping English to it, fetched when an
 * agent chooses it (remembered on this browser). Fixed words in index.html carry data-i18n (their
 * text is the key) or data-i18n-attr="placeholder,title,aria-label" (those attributes' values);
 * words a script draws once are drawn by a function given to onLanguage(), again at a switch;
 * a notice shown after an action ("Saved.") is put with notice(), and follows a switch too.
 * Words that change with a number ("1 rating", "2 ratings") are keyed by their English for many,
 * and map to their forms by plural category — { one: "…", other: "…" }, and "zero", "two",
 * "few", "many" where the language has them (Intl.PluralRules) —, chosen by the slot {n}. */
export var LANGUAGES = [["en", "English"], ["pt", "Português"], ["el", "Ελληνικά"],
                        ["es", "Español"], ["fr", "Français"], ["de", "Deutsch"],
                        ["ar", "العربية"], ["he", "עברית"]];
var RTL = { ar: 1, he: 1 };
var KEY = "livechat:panel-language";
var words = {}, code = "en";
// English's own forms for one (the key is the form for the rest).
var ENGLISH = {
  "{average} / 5 ({percent}% happy, {n} ratings)": { one: "{average} / 5 ({percent}% happy, {n} rating)" },
  "{percent}% yes ({n} answers)": { one: "{percent}% yes ({n} answer)" },
  "{n} open conversations of your capacity of {capacity}": { one: "{n} open conversation of your capacity of {capacity}" }
};
// The plural rules of the panel's languages (Portuguese as written in Portugal: 0 is "other"),
// made once each.
var RULES = { pt: "pt-PT" }, rules = {};
var drawers = [];   // words drawn by scripts, drawn again after a switch (onLanguage)
var notices = [];   // notices still shown: { node, words, text } (notice)

function base(tag) { return String(tag || "").toLowerCase().split("-")[0]; }
function known(c) { return LANGUAGES.some(function (l) { return l[0] === c; }); }

/** The language chosen on this browser, else the browser's own if we have it, else English. */
export function preferred() {
  var saved = null;
  try { saved = localStorage.getItem(KEY); } catch (e) { /* private mode */ }
  if (known(saved)) return saved;
  return known(base(navigator.language)) ? base(navigator.language) : "en";
}

/** Switch to ``wanted`` (remembered when ``remember``); resolves once the page is in it. */
export function use(wanted, remember) {
  wanted = known(wanted) ? wanted : "en";
  if (remember) { try { localStorage.setItem(KEY, wanted); } catch (e) { /* private mode */ } }
  var load = wanted === "en" ? Promise.resolve({})
    : import("./lang/" + wanted + ".js").then(function (m) { return m.default; });
  return load.then(function (pack) {
    words = pack;
    code = wanted;
    document.documentElement.lang = code;
    document.documentElement.dir = RTL[code] ? "rtl" : "ltr";
    translate(document);
    drawers.forEach(function (draw) { draw(); });
    notices = notices.filter(again);
    return code;
  });
}

export function lang() { return code; }
export function locale() { return base(navigator.language) === code ? navigator.language : code; }

export function t(key, slots) {
  var text = words[key] || (code === "en" && ENGLISH[key]) || key;
  if (typeof text === "object") {  // forms by the number in {n}
    var n = Number(slots && slots.n);
    rules[code] = rules[code] || new Intl.PluralRules(RULES[code] || code);
    var form = rules[code].select(isNaN(n) ? 0 : n);
    text = text[form] || text.other || key;
  }
  return text.replace(/\{(\w+)\}/g, function (_, k) {
    return slots && slots[k] !== undefined ? String(slots[k]) : "";
  });
}

/** ``t(key, slots)`` into ``parent``, as text, each slot but {n} in a <bdi> of its own: a name
 * or an address a visitor wrote keeps its own direction inside the panel's sentence (in Arabic,
 * "Maria Silva (Acme Inc.)" and not "(Maria Silva (Acme Inc."). */
export function tInto(parent, key, slots) {
  var marked = {}, values = [];
  Object.keys(slots).forEach(function (k) {
    if (k === "n") { marked[k] = slots[k]; return; }
    marked[k] = "\u0000" + values.length + "\u0000";
    values.push(slots[k]);
  });
  t(key, marked).split("\u0000").forEach(function (part, i) {
    if (i % 2) theirs(parent, values[Number(part)]);
    else if (part) parent.appendChild(document.createTextNode(part));
  });
  return parent;
}

/** What someone else wrote (a visitor's name, email, words), in ``parent`` in its own direction. */
export function theirs(parent, text) {
  var node = document.createElement("bdi");
  node.textContent = text === undefined || text === null ? "" : String(text);
  parent.appendChild(node);
  return node;
}

/** A visitor's name as the panel shows it: the one they gave, or, for one who gave none, the
 * server's stand-in ("Visitor K7QX", made from their id as ``visitor_display_name`` does in
 * server/store/models.py) in the panel's language. */
export function visitorName(visitor) {
  var id = String(visitor.id || ""), cut = id.indexOf("_");
  var code = (cut >= 0 ? id.slice(cut + 1) : id).replace(/[^\p{L}\p{N}]/gu, "").slice(0, 4)
    .toUpperCase();
  return visitor.name === "Visitor " + code ? t("Visitor {code}", { code: code }) : visitor.name;
}

/** The fixed words of ``root``, in the current language (the English stays as the key). */
export function translate(root) {
  root.querySelectorAll("[data-i18n]").forEach(function (node) {
    if (!node.hasAttribute("data-key")) node.setAttribute("data-key", node.textContent.trim());
    node.textContent = t(node.getAttribute("data-key"));
  });
  root.querySelectorAll("[data-i18n-attr]").forEach(function (node) {
    node.getAttribute("data-i18n-attr").split(",").forEach(function (attr) {
      var keep = "data-key-" + attr;
      if (!node.hasAttribute(keep)) node.setAttribute(keep, node.getAttribute(attr) || "");
      node.setAttribute(attr, t(node.getAttribute(keep)));
    });
  });
}

/** Words a script draws once (a menu, a section, a form built at start) or keeps on the page
 * between redraws: ``draw`` puts them in the current language, now and after every switch, as
 * ``translate`` does for the fixed words of the page. */
export function onLanguage(draw) {
  drawers.push(draw);
  draw();
}

/** A notice shown after an action ("Saved.", "Password changed…", a secret to copy): ``words()``
 * in ``node``, now and again after every switch for as long as the node is on the page and still
 * says it. ``words`` null clears it. What a node is told otherwise (the server's own message, put
 * as text) is not ours to translate: seen changed, the notice is dropped, not written over. */
export function notice(node, words) {
  notices = notices.filter(function (n) { return n.node !== node; });
  node.textContent = words ? words() : "";
  if (words) notices.push({ node: node, words: words, text: node.textContent });
}

/** A notice, in the new language; false when it is gone (cleared, replaced or removed). */
function again(n) {
  if (!n.node.isConnected || n.node.textContent !== n.text) return false;
  n.node.textContent = n.text = n.words();
  return true;
}

// --- times, in the agent's language ---------------------------------------------------------

/** How long ago: "5m", "3h" (narrow units of the language). */
export function ago(ms) {
  var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  var pair = s < 60 ? [s, "second"] : s < 3600 ? [Math.round(s / 60), "minute"]
    : s < 86400 ? [Math.round(s / 3600), "hour"] : [Math.round(s / 86400), "day"];
  try {
    return new Intl.NumberFormat(locale(), { style: "unit", unit: pair[1],
                                             unitDisplay: "narrow" }).format(pair[0]);
  } catch (e) { return pair[0] + pair[1][0]; }
}
export function when(ms) {
  var d = new Date(ms);
  return d.toDateString() === new Date().toDateString()
    ? d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString(locale(), { month: "short", day: "numeric", hour: "2-digit",
                                   minute: "2-digit" });
}
export function clock(ms) { return new Date(ms).toLocaleTimeString(locale()); }
export function day(ms) { return new Date(ms).toLocaleDateString(locale()); }
