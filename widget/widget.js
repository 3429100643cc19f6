/*! livechat loader: the one tag a site owner pastes.
 * <script async src="https://CHAT-SERVER/widget.js" data-site="SITE_KEY"></script>
 * It draws a launcher in a shadow root (host CSS cannot reach it, its CSS cannot leak), in the
 * top layer where the browser has popovers (no ancestor's transform moves it, no z-index covers it),
 * loads the chat frame from the chat server's origin when the visitor opens it (or, for a visitor
 * who chatted lately, when the page is idle), keeps the
 * visitor token in the host page's own storage (first-party, so storage partitioning does not
 * lose the visitor) and hands it to the frame by origin-checked postMessage. No inline styles or
 * scripts are added to the host page; the only global is LiveChat.
 */
(function (w, d) {
  "use strict";
  var script = d.currentScript;
  if (!script || w.LiveChat && w.LiveChat.loaded) return;
  var site = script.getAttribute("data-site") || "";
  var origin = new URL(script.src).origin;
  var storeKey = "livechat:" + site;
  var queued = (w.LiveChat && w.LiveChat.q) || [];
  var handlers = {};
  // LiveChat('identify', …)'s {jwt}, or {id, name, email, expires, hash}
  var identity = null;
  var lang = script.getAttribute("data-lang") || navigator.language || "en";
  var position = script.getAttribute("data-position") === "left" ? "left" : "right";
  var color = script.getAttribute("data-color");
  var label = (script.getAttribute("data-launcher-text") || "").trim();
  // The frame's and the stylesheet's: the server checks the site allows this page's origin.
  var query = "?site=" + encodeURIComponent(site) +
    "&parent=" + encodeURIComponent(w.location.origin);
  // LiveChat('set', …)'s, until the frame takes them
  var attributes = null;
  // The title we set, and the page's own under it (titleBadge); the address the frame last told
  // agents of (moved); whether the tag is wrong (then nothing is shown).
  var titled = null, pageTitle = null, reported = "", moving = null, broken = false, audio = null;
  // A visitor who chatted in the last two weeks is "returning".
  var RECENT = 14 * 864e5;
  // The launcher's own words: [open, close, unread]; the frame has the rest (i18n.js).
  var WORDS = {
    en: ["Open chat", "Close chat", "unread"], pt: ["Abrir conversa", "Fechar conversa", "por ler"],
    el: ["Άνοιγμα συνομιλίας", "Κλείσιμο συνομιλίας", "μη αναγνωσμένα"],
    es: ["Abrir chat", "Cerrar chat", "sin leer"], fr: ["Ouvrir la discussion", "Fermer la discussion", "non lus"],
    de: ["Chat öffnen", "Chat schließen", "ungelesen"],
    ar: ["فتح المحادثة", "إغلاق المحادثة", "غير مقروءة"], he: ["פתיחת הצ'אט", "סגירת הצ'אט", "לא נקראו"]
  };
  function word(i) { return (WORDS[lang.toLowerCase().split("-")[0]] || WORDS.en)[i]; }
  /** The launcher's name: its own words, after the whole label (a name holds what is seen). */
  function named(i) { return label ? label + " (" + word(i) + ")" : word(i); }
  var host, root, button, badge, panel, frame, frameReady = false, isOpen = false, unread = 0;
  var resetAt = load().reset;  // the last reset this tab knows of (a logout: "reset" below)
  // The chat was opened by the visitor: it takes the keyboard's focus.
  var focusChat = false;

  function load() {
    try { return JSON.parse(w.localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  }
  function save(patch) {
    var state = load();
    for (var k in patch) state[k] = patch[k];
    // (In private mode it cannot be kept.)
    try { w.localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) {}
  }
  function el(tag, attrs, parent) {
    var node = d.createElement(tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  // The event's name, then its one value if it has one ('open' and 'close' have none).
  function emit(name) {
    var args = [].slice.call(arguments, 1);
    (handlers[name] || []).forEach(function (fn) {
      // (A handler's error is the page's.)
      try { fn.apply(null, args); } catch (e) {}
    });
  }
  function post(message) {
    if (frameReady) frame.contentWindow.postMessage(message, origin);
  }

  function accent(value) {
    if (!/^#[0-9a-fA-F]{6}$/.test(value || "") || !w.CSSStyleSheet) return;
    var n = parseInt(value.slice(1), 16);
    var light = ((n >> 16) * 299 + (n >> 8 & 255) * 587 + (n & 255) * 114) / 1000 > 150;
    // A constructed sheet inside the shadow root: no style attribute on the host page, and a
    // strict style-src allows it (it is CSSOM, not inline CSS).
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(":host{--lc-accent:" + value + ";--lc-on-accent:" +
                        (light ? "#111418" : "#fff") + "}");
      root.adoptedStyleSheets = [sheet];
    } catch (e) {}
    // (An old browser keeps the default colour.)
  }

  function build() {
    // A custom element, not a div: page rules for div, span or button never match it.
    // Hidden until its stylesheet shows it: never a bare button, and nothing at all where the
    // stylesheet says the tag is wrong (an unknown site, an origin the site does not allow).
    host = el("livechat-widget", { "data-livechat": "", "class": position, popover: "manual",
                                   hidden: "" });
    root = host.attachShadow({ mode: "open" });
    accent(color || load().color);  // (the site's, as the chat last said it: "theme")
    el("link", { rel: "stylesheet", href: origin + "/widget/launcher.css" + query }, root)
      .onload = function () {
        var why = getComputedStyle(host).getPropertyValue("--lc-why").trim();
        if (!why) return;
        broken = true;
        close();
        host.remove();
        // One line, for the site owner.
        console.warn(why.slice(1, -1));
      };
    panel = el("div", { "class": "panel", role: "dialog", "aria-label": "Chat", hidden: "" }, root);
    button = el("button", { "class": "launcher", type: "button", "aria-label": named(0),
                            "aria-expanded": "false" }, root);
    var svg = d.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = d.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    button.appendChild(svg);
    if (label) {
      // At most 40 characters: a longer text is cut after a word, with "…" (the name has it all).
      var cut = label.lastIndexOf(" ", 39), shown = label.length > 40 ?
        label.slice(0, cut > 20 ? cut : 39).replace(/[\s,;:\ud800-\udbff]+$/, "") + "\u2026" : label;
      // (Its own direction: an Arabic text's "…" at its end, on the left, on any page.)
      el("span", { "class": "label", dir: "auto" }, button).textContent = shown;
      button.className += " with-label";
    }
    badge = el("span", { "class": "badge", hidden: "" }, button);
    button.addEventListener("click", function () { toggle(true); });
    d.body.appendChild(host);
    lift();
    // (A dialog's close does not bubble: it is seen on its way down.)
    d.addEventListener("close", lift, true);
  }
  /* Into the top layer, above the page's z-indexes and out of reach of its ancestors' transform
   * or filter. Not over a modal dialog the page has open: after it closes (a dialog or
   * popover the page opens later is above the widget, as the page means it to be). */
  function lift() {
    // (A browser without popovers keeps the widget fixed at the highest z-index.)
    try { if (!d.querySelector(":modal")) host.showPopover(); } catch (e) {}
  }

  /** A short chime, by Web Audio (no file to fetch); browsers allow it after a gesture. */
  function unlockAudio() {
    var AC = w.AudioContext || w.webkitAudioContext;
    if (!audio && AC) audio = new AC();
    if (audio && audio.state === "suspended") audio.resume();
  }
  function chime() {
    if (load().muted || !audio || audio.state !== "running") return;
    var now = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.setValueAtTime(880, now);
    osc.frequency.setValueAtTime(1320, now + 0.09);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.12, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.35);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(now);
    osc.stop(now + 0.4);
  }
  /** "(2) Page title" while there is something unread, on the page's title as it is now (a
   * single-page app changes it): a title the page set since ours wins, and is kept. */
  function titleBadge(n) {
    var now = d.title;
    if (now !== titled) pageTitle = now;
    if (n > 0) {
      d.title = "(" + n + ") " + pageTitle;
      // (As the browser keeps it: whitespace collapsed.)
      titled = d.title;
    } else {
      if (now === titled) d.title = pageTitle;
      titled = null;
    }
  }
  /** The page as agents see it: its address and its own title (without our count). */
  function here() {
    return { url: w.location.href, title: d.title === titled ? pageTitle : d.title,
             referrer: d.referrer };
  }
  // (Without its fragment, as the frame reports it; the server keeps a page per address.)
  function seen(page) { return page.url.split("#")[0]; }
  /* A single-page app's route changed (or it called LiveChat('page')): a second after the last
   * change, once its title has followed, the frame tells agents, if the address is new (nothing
   * else is sent: the socket's frames are rate-limited; docs/embedding.md). */
  function moved() {
    clearTimeout(moving);
    moving = setTimeout(function () {
      titleBadge(unread);
      var page = here();
      if (frameReady && seen(page) !== reported) {
        reported = seen(page);
        post({ type: "page", page: page });
      }
    }, 1000);
  }

  function setUnread(n) {
    var changed = n !== unread;
    unread = n;
    titleBadge(n);
    badge.textContent = n > 9 ? "9+" : String(n);
    if (n > 0) badge.removeAttribute("hidden"); else badge.setAttribute("hidden", "");
    if (!isOpen) button.setAttribute("aria-label", n > 0 ? named(0) + ", " + n + " " + word(2) : named(0));
    if (changed) emit("unread", n);
  }

  function makeFrame() {
    if (frame) return;
    var wait = 4e3;
    frame = el("iframe", {
      title: "Chat", src: origin + "/widget/frame" + query + "&lang=" + encodeURIComponent(lang)
    }, panel);
    // Loaded without a word from the chat (the server was unreachable: the browser's error
    // page): loaded again, later each time, at most a minute apart. (The chat's word may come
    // a little after its load: its language, on a slow line.)
    frame.onload = function () {
      setTimeout(function () { if (!frameReady) frame.src += ""; }, wait = Math.min(wait * 2, 6e4));
    };
  }
  /* ``byVisitor``: the visitor asked (the launcher, the chat's own close). The page's own calls
   * (LiveChat('open'), 'close', 'toggle') leave the keyboard's focus where the visitor has it. */
  function open(byVisitor) {
    if (isOpen || broken) return;
    isOpen = true;
    focusChat = !!byVisitor;
    makeFrame();
    panel.removeAttribute("hidden");
    // (The chat's own focus() alone is refused to a frame of another site: a key on the
    // launcher left the focus there.)
    if (focusChat) frame.focus();
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-label", named(1));
    post({ type: "open", focus: focusChat });
    setUnread(0);
    emit("open");
  }
  function close(byVisitor) {
    if (!isOpen) return;
    isOpen = false;
    // (Focus in the frame would be lost, hidden.)
    var inChat = d.activeElement === host;
    panel.setAttribute("hidden", "");
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-label", named(0));
    post({ type: "closed" });
    if (byVisitor || inChat) button.focus();
    emit("close");
  }
  function toggle(byVisitor) { if (isOpen) close(byVisitor); else open(byVisitor); }

  w.addEventListener("message", function (event) {
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) return;
    var m = event.data || {};
    if (m.type === "ready") {
      frameReady = true;
      var state = load(), page = here();
      reported = seen(page);
      post({ type: "init", token: state.token || null, open: isOpen, focus: isOpen && focusChat,
             identity: identity,
             muted: !!state.muted, attributes: attributes, color: color, page: page });
      attributes = null;
    }
    else if (m.type === "token") save({ token: m.token || null });
    else if (m.type === "active" && +m.at > (load().active || 0)) save({ active: +m.at });
    else if (m.type === "close") close(true);
    else if (m.type === "mute") save({ muted: !!m.muted });
    else if (m.type === "theme") {
      if (!color) { accent(m.color); save({ color: m.color }); }
      // The box around the frame, while it paints.
      host.classList.toggle("dark", !!m.dark);
    }
    else if (m.type === "unread") setUnread(isOpen && !d.hidden ? 0 : m.count);
    // A new one, live (not history).
    else if (m.type === "message") {
      if (!isOpen || d.hidden) chime();
      emit("message", m.message);
    }
  });
  d.addEventListener("visibilitychange", function () { if (!d.hidden && isOpen) setUnread(0); });
  // Route changes, without touching the page's history methods: the Navigation API sees them
  // all; elsewhere back and forward, and the page's own LiveChat('page').
  if (w.navigation) w.navigation.addEventListener("currententrychange", moved);
  else w.addEventListener("popstate", moved);
  ["pointerdown", "keydown"].forEach(function (type) {
    w.addEventListener(type, function once() {
      unlockAudio();
      w.removeEventListener(type, once, true);
    }, true);
  });

  function api(command, arg) {
    if (command === "open") open();
    else if (command === "close") close();
    else if (command === "toggle") toggle();
    else if (command === "on" && typeof arguments[2] === "function") {
      (handlers[arg] = handlers[arg] || []).push(arguments[2]);
    } else if (command === "identify" && arg && (arg.id || arg.jwt)) {
      identity = arg.jwt ? { jwt: String(arg.jwt) }
        : { id: String(arg.id), expires: arg.expires, hash: arg.hash, name: arg.name, email: arg.email };
      post({ type: "identify", identity: identity });
    } else if (command === "set" && arg && typeof arg === "object") {
      var values = arg.attributes || arg;
      if (frameReady) post({ type: "attributes", attributes: values });
      else {
        attributes = attributes || {};
        for (var k in values) attributes[k] = values[k];
      }
    } else if (command === "locale" && typeof arg === "string") {
      lang = arg;
      button.setAttribute("aria-label", isOpen ? named(1) : named(0));
      post({ type: "locale", lang: lang });
    } else if (command === "page") {
      moved();
    } else if (command === "reset" && (identity || load().token)) {
      // The site's user logged out: forget the visitor on this browser, in every tab of it
      // (the others hear of it through storage: start), their unread count with them.
      forget();
      save({ token: null, active: 0, reset: resetAt = Date.now() });
    }
  }
  function forget() {
    identity = null;
    setUnread(0);
    post({ type: "reset" });
  }
  function start() {
    build();
    // Another tab's reset: this one forgets the user too, or its frame, still theirs, would
    // write their token back at its next connect, for the next person on this browser.
    w.addEventListener("storage", function (e) {
      if (e.key === storeKey && load().reset !== resetAt) {
        resetAt = load().reset;
        forget();
      }
    });
    w.LiveChat = function () { api.apply(null, arguments); };
    w.LiveChat.loaded = true;
    for (var i = 0; i < queued.length; i++) api.apply(null, queued[i]);
    // When the page is idle: a visitor who has chatted lately gets the chat frame (hidden, never
    // taking focus), so that replies reach them on every page, with the badge and the chime,
    // and agents see which pages they visit. A new visitor gets nothing more until they open
    // the chat: warming the frame's files from here was a second download, not a head start
    // (browsers keep a cross-site frame's cache apart from the page's).
    var idle = w.requestIdleCallback || function (fn) { return setTimeout(fn, 3000); };
    idle(function () {
      var state = load();
      if (!frame && state.token && Date.now() - (state.active || 0) < RECENT) makeFrame();
    });
  }
  if (d.body) start(); else d.addEventListener("DOMContentLoaded", start);
})(window, document);
